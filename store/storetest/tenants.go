package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func exerciseTenants(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"CreateGet": func(t *testing.T, s Store) {
			in := store.Tenant{ID: uuid.NewString(), Slug: "acme", Name: "Acme S.L.", Settings: fullSettings()}
			created, err := s.CreateTenant(ctx(t), in)
			require.NoError(t, err)
			requireSameTenant(t, in, created)
			requireRecent(t, created.CreatedAt)
			requireRecent(t, created.UpdatedAt)

			got, err := s.GetTenant(ctx(t), in.ID)
			require.NoError(t, err)
			requireSameTenant(t, created, got)

			got, err = s.GetTenantBySlug(ctx(t), "acme")
			require.NoError(t, err)
			requireSameTenant(t, created, got)
		},
		"GivenCreatedAtKept": func(t *testing.T, s Store) {
			at := time.Now().Add(-48 * time.Hour).UTC()
			created, err := s.CreateTenant(ctx(t), store.Tenant{ID: uuid.NewString(), Slug: "old", Name: "Old", CreatedAt: at})
			require.NoError(t, err)
			requireTime(t, at, created.CreatedAt)
			got, err := s.GetTenant(ctx(t), created.ID)
			require.NoError(t, err)
			requireTime(t, at, got.CreatedAt)
		},
		"EmptySettings": func(t *testing.T, s Store) {
			in := store.Tenant{ID: uuid.NewString(), Slug: "bare", Name: "Bare"}
			_, err := s.CreateTenant(ctx(t), in)
			require.NoError(t, err)
			got, err := s.GetTenant(ctx(t), in.ID)
			require.NoError(t, err)
			requireSameTenant(t, in, got)
		},
		"DuplicateSlug": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			_, err := s.CreateTenant(ctx(t), store.Tenant{ID: uuid.NewString(), Slug: a.Slug, Name: "Other"})
			require.ErrorIs(t, err, store.ErrConflict)

			list, err := s.ListTenants(ctx(t))
			require.NoError(t, err)
			require.Len(t, list, 1)
		},
		"DuplicateID": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			_, err := s.CreateTenant(ctx(t), store.Tenant{ID: a.ID, Slug: "another-slug", Name: "Other"})
			require.ErrorIs(t, err, store.ErrConflict)
		},
		"NotFound": func(t *testing.T, s Store) {
			NewTenant(t, s)
			missing := uuid.NewString()
			_, err := s.GetTenant(ctx(t), missing)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.GetTenantBySlug(ctx(t), "no-such-slug")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.UpdateTenant(ctx(t), missing, store.TenantPatch{Name: ptr("x")})
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.DeleteTenant(ctx(t), missing), store.ErrNotFound)
		},
		"List": func(t *testing.T, s Store) {
			list, err := s.ListTenants(ctx(t))
			require.NoError(t, err)
			require.Empty(t, list)

			want := map[string]store.Tenant{}
			for range 3 {
				ten := NewTenant(t, s)
				want[ten.ID] = ten
			}
			list, err = s.ListTenants(ctx(t))
			require.NoError(t, err)
			require.Len(t, list, 3)
			for _, got := range list {
				w, ok := want[got.ID]
				require.True(t, ok, "unexpected tenant %s", got.ID)
				requireSameTenant(t, w, got)
			}
		},
		"UpdateName": func(t *testing.T, s Store) {
			at := time.Now().Add(-time.Hour).UTC()
			before, err := s.CreateTenant(ctx(t), store.Tenant{ID: uuid.NewString(), Slug: "upd", Name: "Before", Settings: fullSettings(), CreatedAt: at})
			require.NoError(t, err)
			other := NewTenant(t, s)

			after, err := s.UpdateTenant(ctx(t), before.ID, store.TenantPatch{Name: ptr("After")})
			require.NoError(t, err)
			require.Equal(t, "After", after.Name)
			require.Equal(t, before.Slug, after.Slug)
			require.Equal(t, normSettings(fullSettings()), normSettings(after.Settings))
			requireTime(t, before.CreatedAt, after.CreatedAt, "CreatedAt must not move")
			require.True(t, after.UpdatedAt.After(before.UpdatedAt), "UpdatedAt must move: %v -> %v", before.UpdatedAt, after.UpdatedAt)

			got, err := s.GetTenant(ctx(t), before.ID)
			require.NoError(t, err)
			requireSameTenant(t, after, got)

			// The other tenant is untouched.
			got, err = s.GetTenant(ctx(t), other.ID)
			require.NoError(t, err)
			requireSameTenant(t, other, got)
		},
		"UpdateSettings": func(t *testing.T, s Store) {
			before := NewTenant(t, s)
			newSettings := store.TenantSettings{DefaultLanguage: "pt", Languages: []string{"pt"}, CollectPath: "/zz/c"}
			after, err := s.UpdateTenant(ctx(t), before.ID, store.TenantPatch{Settings: &newSettings})
			require.NoError(t, err)
			require.Equal(t, before.Name, after.Name)
			require.Equal(t, normSettings(newSettings), normSettings(after.Settings), "settings are replaced as a whole")

			got, err := s.GetTenant(ctx(t), before.ID)
			require.NoError(t, err)
			requireSameTenant(t, after, got)
		},
		"EmptyPatch": func(t *testing.T, s Store) {
			before := NewTenant(t, s)
			after, err := s.UpdateTenant(ctx(t), before.ID, store.TenantPatch{})
			require.NoError(t, err)
			after.UpdatedAt = before.UpdatedAt
			requireSameTenant(t, before, after)
		},
	})
}
