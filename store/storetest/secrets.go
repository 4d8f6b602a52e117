package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// sealedSnapshot reads every sealed value the suite can observe.
func sealedSnapshot(t *testing.T, s Store, tenants ...string) []store.Sealed {
	t.Helper()
	var out []store.Sealed
	for _, id := range tenants {
		ps, err := s.ListPixels(ctx(t), id)
		require.NoError(t, err)
		for _, p := range ps {
			out = append(out, normSealed(p.Credentials))
		}
		ks, err := s.ListCookieKeys(ctx(t), id)
		require.NoError(t, err)
		for _, k := range ks {
			out = append(out, normSealed(k.Secret))
		}
		evs, err := s.RecentEvents(ctx(t), id, 100)
		require.NoError(t, err)
		for _, e := range evs {
			out = append(out, normSealed(e.Event.UserData))
		}
	}
	slices.SortFunc(out, func(a, b store.Sealed) int { return bytes.Compare(a.Ciphertext, b.Ciphertext) })
	return out
}

// seedSealed stores 6 non-zero sealed values (2 pixels, 2 cookie keys, 2
// events) and 2 zero ones across two tenants.
func seedSealed(t *testing.T, s Store) (a, b store.Tenant) {
	t.Helper()
	a, b = NewTenant(t, s), NewTenant(t, s)
	NewPixel(t, s, a.ID, store.PlatformMeta)
	NewPixel(t, s, b.ID, store.PlatformGoogle)
	bare := samplePixel(a.ID, store.PlatformTikTok)
	bare.Credentials = store.Sealed{}
	_, err := s.CreatePixel(ctx(t), bare)
	require.NoError(t, err)
	require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "c1", time.Time{})))
	require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(b.ID, "c1", time.Time{})))
	noUD := sampleEvent(a.ID, time.Time{})
	noUD.UserData = store.Sealed{}
	require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{
		sampleEvent(a.ID, time.Time{}), sampleEvent(b.ID, time.Time{}), noUD,
	}))
	return a, b
}

func exerciseSecrets(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"RewritesEverything": func(t *testing.T, s Store) {
			a, b := seedSealed(t, s)
			before := sealedSnapshot(t, s, a.ID, b.ID)

			var seen []store.Sealed
			n, err := s.ResealAll(ctx(t), func(in store.Sealed) (store.Sealed, error) {
				require.False(t, in.IsZero(), "zero values are not resealed")
				seen = append(seen, normSealed(in))
				return store.Sealed{KeyID: "k2", Ciphertext: append([]byte("v2:"), in.Ciphertext...)}, nil
			})
			require.NoError(t, err)
			require.Equal(t, 6, n)
			slices.SortFunc(seen, func(a, b store.Sealed) int { return bytes.Compare(a.Ciphertext, b.Ciphertext) })
			var nonZero []store.Sealed
			for _, v := range before {
				if !v.IsZero() {
					nonZero = append(nonZero, v)
				}
			}
			require.Equal(t, nonZero, seen, "fn sees every stored sealed value once")

			var want []store.Sealed
			for _, v := range before {
				if !v.IsZero() {
					v = store.Sealed{KeyID: "k2", Ciphertext: append([]byte("v2:"), v.Ciphertext...)}
				}
				want = append(want, v)
			}
			slices.SortFunc(want, func(a, b store.Sealed) int { return bytes.Compare(a.Ciphertext, b.Ciphertext) })
			require.Equal(t, want, sealedSnapshot(t, s, a.ID, b.ID))
		},
		"AllOrNothing": func(t *testing.T, s Store) {
			a, b := seedSealed(t, s)
			before := sealedSnapshot(t, s, a.ID, b.ID)
			boom := errors.New("boom")
			calls := 0
			_, err := s.ResealAll(ctx(t), func(in store.Sealed) (store.Sealed, error) {
				calls++
				if calls == 4 {
					return store.Sealed{}, boom
				}
				return store.Sealed{KeyID: "k2", Ciphertext: []byte("new")}, nil
			})
			require.ErrorIs(t, err, boom)
			require.Equal(t, before, sealedSnapshot(t, s, a.ID, b.ID), "a failed reseal changes nothing")
		},
		"Empty": func(t *testing.T, s Store) {
			n, err := s.ResealAll(ctx(t), func(in store.Sealed) (store.Sealed, error) {
				return in, errors.New("must not be called")
			})
			require.NoError(t, err)
			require.Zero(t, n)
		},
	})
}
