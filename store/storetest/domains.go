package storetest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func exerciseDomains(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"AddList": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			in := sampleDomain(a.ID)
			got, err := s.AddDomain(ctx(t), in)
			require.NoError(t, err)
			require.Equal(t, normDomain(in), normDomain(got))
			requireRecent(t, got.CreatedAt)

			a2 := NewDomain(t, s, a.ID)
			b1 := NewDomain(t, s, b.ID)

			list, err := s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{in.Hostname, a2.Hostname}, hostnames(list))
			for _, d := range list {
				if d.Hostname == in.Hostname {
					require.Equal(t, normDomain(got), normDomain(d))
					requireTime(t, got.CreatedAt, d.CreatedAt)
				}
			}

			list, err = s.ListDomains(ctx(t), b.ID)
			require.NoError(t, err)
			require.Equal(t, []string{b1.Hostname}, hostnames(list))

			list, err = s.ListDomains(ctx(t), uuid.NewString())
			require.NoError(t, err)
			require.Empty(t, list)

			all, err := s.AllDomains(ctx(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{in.Hostname, a2.Hostname, b1.Hostname}, hostnames(all))
			for _, d := range all {
				if d.Hostname == b1.Hostname {
					require.Equal(t, normDomain(b1), normDomain(d))
				}
			}
		},
		"HostnameUniqueFleetWide": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			d := NewDomain(t, s, a.ID)

			dup := sampleDomain(b.ID)
			dup.Hostname = d.Hostname
			_, err := s.AddDomain(ctx(t), dup)
			require.ErrorIs(t, err, store.ErrConflict)

			dup.TenantID = a.ID
			_, err = s.AddDomain(ctx(t), dup)
			require.ErrorIs(t, err, store.ErrConflict)

			list, err := s.ListDomains(ctx(t), b.ID)
			require.NoError(t, err)
			require.Empty(t, list)
			all, err := s.AllDomains(ctx(t))
			require.NoError(t, err)
			require.Len(t, all, 1)
			require.Equal(t, a.ID, all[0].TenantID)
		},
		"UnknownTenant": func(t *testing.T, s Store) {
			_, err := s.AddDomain(ctx(t), sampleDomain(uuid.NewString()))
			require.ErrorIs(t, err, store.ErrNotFound)
		},
		"Verification": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			d := NewDomain(t, s, a.ID)

			// Through another tenant: absent, and nothing changes.
			err := s.SetDomainVerification(ctx(t), b.ID, d.Hostname, store.VerificationVerified)
			require.ErrorIs(t, err, store.ErrNotFound)
			list, err := s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, store.VerificationPending, list[0].Verification)

			err = s.SetDomainVerification(ctx(t), a.ID, "missing.example.com", store.VerificationVerified)
			require.ErrorIs(t, err, store.ErrNotFound)

			require.NoError(t, s.SetDomainVerification(ctx(t), a.ID, d.Hostname, store.VerificationVerified))
			list, err = s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, store.VerificationVerified, list[0].Verification)
			all, err := s.AllDomains(ctx(t))
			require.NoError(t, err)
			require.Equal(t, store.VerificationVerified, all[0].Verification)

			require.NoError(t, s.SetDomainVerification(ctx(t), a.ID, d.Hostname, store.VerificationPending))
			list, err = s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, store.VerificationPending, list[0].Verification)
		},
		"Delete": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			d := NewDomain(t, s, a.ID)
			keep := NewDomain(t, s, a.ID)

			require.ErrorIs(t, s.DeleteDomain(ctx(t), b.ID, d.Hostname), store.ErrNotFound)
			list, err := s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 2)

			require.NoError(t, s.DeleteDomain(ctx(t), a.ID, d.Hostname))
			require.ErrorIs(t, s.DeleteDomain(ctx(t), a.ID, d.Hostname), store.ErrNotFound)
			list, err = s.ListDomains(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{keep.Hostname}, hostnames(list))

			// The hostname is free again, for any tenant.
			again := sampleDomain(b.ID)
			again.Hostname = d.Hostname
			_, err = s.AddDomain(ctx(t), again)
			require.NoError(t, err)
		},
	})
}
