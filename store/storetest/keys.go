package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func sampleCookieKey(tenantID, keyID string, at time.Time) store.CookieKey {
	return store.CookieKey{
		TenantID:  tenantID,
		KeyID:     keyID,
		Secret:    store.Sealed{KeyID: "k1", Ciphertext: []byte("sealed-" + tenantID + "-" + keyID)},
		Active:    true,
		CreatedAt: at,
	}
}

func exerciseCookieKeys(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"NewestFirst": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			now := time.Now().UTC()
			var in []store.CookieKey
			for i, id := range []string{"k1", "k2", "k3"} {
				k := sampleCookieKey(a.ID, id, now.Add(time.Duration(i-3)*time.Hour))
				require.NoError(t, s.AddCookieKey(ctx(t), k))
				in = append(in, k)
			}
			list, err := s.ListCookieKeys(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 3)
			for i, got := range list {
				want := in[len(in)-1-i]
				require.Equal(t, normCookieKey(want), normCookieKey(got))
				requireTime(t, want.CreatedAt, got.CreatedAt)
			}
		},
		"Conflict": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "kx", now)))
			err := s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "kx", now))
			require.ErrorIs(t, err, store.ErrConflict)
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(b.ID, "kx", now)), "key ids are per tenant")
		},
		"UnknownTenant": func(t *testing.T, s Store) {
			err := s.AddCookieKey(ctx(t), sampleCookieKey(uuid.NewString(), "k1", time.Time{}))
			require.ErrorIs(t, err, store.ErrNotFound)
		},
		"ZeroCreatedAtIsNow": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "k1", time.Time{})))
			list, err := s.ListCookieKeys(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 1)
			requireRecent(t, list[0].CreatedAt)
		},
		"RetireAndIsolation": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "k1", now.Add(-time.Hour))))
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(a.ID, "k2", now)))
			require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(b.ID, "k9", now)))

			list, err := s.ListCookieKeys(ctx(t), b.ID)
			require.NoError(t, err)
			require.Equal(t, []string{b.ID + "/k9"}, cookieKeyRefs(list))

			// Another tenant cannot retire A's key.
			require.ErrorIs(t, s.RetireCookieKey(ctx(t), b.ID, "k1"), store.ErrNotFound)
			require.ErrorIs(t, s.RetireCookieKey(ctx(t), a.ID, "missing"), store.ErrNotFound)
			all, err := s.AllCookieKeys(ctx(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{a.ID + "/k1", a.ID + "/k2", b.ID + "/k9"}, cookieKeyRefs(all))

			require.NoError(t, s.RetireCookieKey(ctx(t), a.ID, "k1"))
			list, err = s.ListCookieKeys(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{a.ID + "/k2", a.ID + "/k1"}, cookieKeyRefs(list))
			require.True(t, list[0].Active)
			require.False(t, list[1].Active, "retired keys stay listed, inactive")

			all, err = s.AllCookieKeys(ctx(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{a.ID + "/k2", b.ID + "/k9"}, cookieKeyRefs(all))
			for _, k := range all {
				require.True(t, k.Active)
				want := sampleCookieKey(k.TenantID, k.KeyID, time.Time{})
				require.Equal(t, normCookieKey(want), normCookieKey(k))
			}
		},
	})
}

func sampleAPIKey(tenantID string) store.APIKey {
	id := uuid.NewString()
	h := sha256.Sum256([]byte("pgw_" + id))
	return store.APIKey{
		ID:       id,
		TenantID: tenantID,
		Name:     "server " + id[:4],
		Prefix:   "pgw_" + id[:8],
		Hash:     h[:],
		Scopes:   []string{"events:write", "consent:write"},
	}
}

func exerciseAPIKeys(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"CreateLookup": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			ka, kb := sampleAPIKey(a.ID), sampleAPIKey(b.ID)
			for _, k := range []store.APIKey{ka, kb} {
				got, err := s.CreateAPIKey(ctx(t), k)
				require.NoError(t, err)
				require.Equal(t, normAPIKey(k), normAPIKey(got))
				require.Nil(t, got.RevokedAt)
				requireRecent(t, got.CreatedAt)
			}
			got, err := s.APIKeyByPrefix(ctx(t), kb.Prefix)
			require.NoError(t, err)
			require.Equal(t, normAPIKey(kb), normAPIKey(got))
			require.Equal(t, b.ID, got.TenantID)
			require.Nil(t, got.RevokedAt)

			_, err = s.APIKeyByPrefix(ctx(t), "pgw_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		},
		"PrefixUniqueFleetWide": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			ka := sampleAPIKey(a.ID)
			_, err := s.CreateAPIKey(ctx(t), ka)
			require.NoError(t, err)
			dup := sampleAPIKey(b.ID)
			dup.Prefix = ka.Prefix
			_, err = s.CreateAPIKey(ctx(t), dup)
			require.ErrorIs(t, err, store.ErrConflict)
			got, err := s.APIKeyByPrefix(ctx(t), ka.Prefix)
			require.NoError(t, err)
			require.Equal(t, a.ID, got.TenantID)
		},
		"UnknownTenant": func(t *testing.T, s Store) {
			_, err := s.CreateAPIKey(ctx(t), sampleAPIKey(uuid.NewString()))
			require.ErrorIs(t, err, store.ErrNotFound)
		},
		"ListIsolation": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			want := map[string]store.APIKey{}
			for range 2 {
				k := sampleAPIKey(a.ID)
				_, err := s.CreateAPIKey(ctx(t), k)
				require.NoError(t, err)
				want[k.ID] = k
			}
			kb := sampleAPIKey(b.ID)
			_, err := s.CreateAPIKey(ctx(t), kb)
			require.NoError(t, err)

			list, err := s.ListAPIKeys(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 2)
			for _, k := range list {
				w, ok := want[k.ID]
				require.True(t, ok, "tenant A lists key %s", k.ID)
				require.Equal(t, normAPIKey(w), normAPIKey(k))
			}
			list, err = s.ListAPIKeys(ctx(t), uuid.NewString())
			require.NoError(t, err)
			require.Empty(t, list)
		},
		"Revoke": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			ka := sampleAPIKey(a.ID)
			_, err := s.CreateAPIKey(ctx(t), ka)
			require.NoError(t, err)

			require.ErrorIs(t, s.RevokeAPIKey(ctx(t), b.ID, ka.ID), store.ErrNotFound)
			require.ErrorIs(t, s.RevokeAPIKey(ctx(t), a.ID, uuid.NewString()), store.ErrNotFound)
			got, err := s.APIKeyByPrefix(ctx(t), ka.Prefix)
			require.NoError(t, err)
			require.Nil(t, got.RevokedAt, "a revoke through another tenant changes nothing")

			require.NoError(t, s.RevokeAPIKey(ctx(t), a.ID, ka.ID))
			got, err = s.APIKeyByPrefix(ctx(t), ka.Prefix)
			require.NoError(t, err, "revoked keys are still found")
			require.NotNil(t, got.RevokedAt)
			requireRecent(t, *got.RevokedAt)
			require.Equal(t, normAPIKey(ka), normAPIKey(got))

			list, err := s.ListAPIKeys(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.NotNil(t, list[0].RevokedAt)
			requireTime(t, *got.RevokedAt, *list[0].RevokedAt)
		},
	})
}
