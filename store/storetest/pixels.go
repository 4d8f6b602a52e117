package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func exercisePixels(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"CreateGetRoundTrip": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			for _, platform := range store.Platforms() {
				in := samplePixel(a.ID, platform)
				created, err := s.CreatePixel(ctx(t), in)
				require.NoError(t, err)
				require.NotZero(t, created.ID)
				requireSamePixel(t, in, created)
				requireRecent(t, created.CreatedAt)
				requireRecent(t, created.UpdatedAt)

				got, err := s.GetPixel(ctx(t), a.ID, in.UUID)
				require.NoError(t, err)
				requireSamePixel(t, created, got)
			}
			list, err := s.ListPixels(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, len(store.Platforms()))
		},
		"MinimalPixel": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			in := store.Pixel{UUID: uuid.NewString(), TenantID: a.ID, Platform: store.PlatformMeta, PixelID: "123"}
			created, err := s.CreatePixel(ctx(t), in)
			require.NoError(t, err)
			got, err := s.GetPixel(ctx(t), a.ID, in.UUID)
			require.NoError(t, err)
			requireSamePixel(t, in, got)
			require.True(t, got.Credentials.IsZero())
			require.Equal(t, created.ID, got.ID)
		},
		"Conflict": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			p := NewPixel(t, s, a.ID, store.PlatformMeta)

			dup := samplePixel(a.ID, store.PlatformMeta)
			dup.PixelID = p.PixelID
			_, err := s.CreatePixel(ctx(t), dup)
			require.ErrorIs(t, err, store.ErrConflict)

			// Same pixel id on another platform of the same tenant: fine.
			other := samplePixel(a.ID, store.PlatformTikTok)
			other.PixelID = p.PixelID
			_, err = s.CreatePixel(ctx(t), other)
			require.NoError(t, err)

			// Same platform and pixel id in another tenant: fine.
			inB := samplePixel(b.ID, store.PlatformMeta)
			inB.PixelID = p.PixelID
			_, err = s.CreatePixel(ctx(t), inB)
			require.NoError(t, err)

			// Duplicate UUID.
			sameUUID := samplePixel(a.ID, store.PlatformGoogle)
			sameUUID.UUID = p.UUID
			_, err = s.CreatePixel(ctx(t), sameUUID)
			require.ErrorIs(t, err, store.ErrConflict)

			list, err := s.ListPixels(ctx(t), a.ID)
			require.NoError(t, err)
			require.Len(t, list, 2)
		},
		"UnknownTenant": func(t *testing.T, s Store) {
			_, err := s.CreatePixel(ctx(t), samplePixel(uuid.NewString(), store.PlatformMeta))
			require.ErrorIs(t, err, store.ErrNotFound)
		},
		"NotFound": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			missing := uuid.NewString()
			_, err := s.GetPixel(ctx(t), a.ID, missing)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.UpdatePixel(ctx(t), a.ID, missing, store.PixelPatch{IsActive: ptr(false)})
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.DeletePixel(ctx(t), a.ID, missing), store.ErrNotFound)
		},
		"TenantIsolation": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			pa := NewPixel(t, s, a.ID, store.PlatformMeta)
			pb := NewPixel(t, s, b.ID, store.PlatformMeta)

			_, err := s.GetPixel(ctx(t), b.ID, pa.UUID)
			require.ErrorIs(t, err, store.ErrNotFound)

			_, err = s.UpdatePixel(ctx(t), b.ID, pa.UUID, store.PixelPatch{
				PixelID: ptr("stolen"), IsActive: ptr(false), Credentials: &store.Sealed{KeyID: "evil", Ciphertext: []byte("x")},
			})
			require.ErrorIs(t, err, store.ErrNotFound)

			require.ErrorIs(t, s.DeletePixel(ctx(t), b.ID, pa.UUID), store.ErrNotFound)

			got, err := s.GetPixel(ctx(t), a.ID, pa.UUID)
			require.NoError(t, err)
			requireSamePixel(t, pa, got)
			requireTime(t, pa.UpdatedAt, got.UpdatedAt)

			list, err := s.ListPixels(ctx(t), b.ID)
			require.NoError(t, err)
			require.Equal(t, []string{pb.UUID}, pixelUUIDs(list))
			requireSamePixel(t, pb, list[0])

			list, err = s.ListPixels(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{pa.UUID}, pixelUUIDs(list))

			list, err = s.ListPixels(ctx(t), uuid.NewString())
			require.NoError(t, err)
			require.Empty(t, list)
		},
		"Patch": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			cases := []struct {
				name  string
				patch store.PixelPatch
				apply func(p *store.Pixel)
			}{
				{"empty", store.PixelPatch{}, func(*store.Pixel) {}},
				{"pixel id", store.PixelPatch{PixelID: ptr("999")}, func(p *store.Pixel) { p.PixelID = "999" }},
				{
					"credentials",
					store.PixelPatch{Credentials: &store.Sealed{KeyID: "k2", Ciphertext: []byte{0, 1, 2, 255}}},
					func(p *store.Pixel) { p.Credentials = store.Sealed{KeyID: "k2", Ciphertext: []byte{0, 1, 2, 255}} },
				},
				{"clear credentials", store.PixelPatch{Credentials: &store.Sealed{}}, func(p *store.Pixel) { p.Credentials = store.Sealed{} }},
				{
					"hints",
					store.PixelPatch{CredentialHints: &map[string]string{"api_secret": "…wxyz"}},
					func(p *store.Pixel) { p.CredentialHints = map[string]string{"api_secret": "…wxyz"} },
				},
				{
					"extras",
					store.PixelPatch{Extras: &map[string]string{"x": "y"}},
					func(p *store.Pixel) { p.Extras = map[string]string{"x": "y"} },
				},
				{"clear extras", store.PixelPatch{Extras: &map[string]string{}}, func(p *store.Pixel) { p.Extras = nil }},
				{
					"event map",
					store.PixelPatch{EventMap: &map[string]string{"lead": "tag-1", "purchase": ""}},
					func(p *store.Pixel) { p.EventMap = map[string]string{"lead": "tag-1", "purchase": ""} },
				},
				{"inactive", store.PixelPatch{IsActive: ptr(false)}, func(p *store.Pixel) { p.IsActive = false }},
				{"server side off", store.PixelPatch{ServerSideEnabled: ptr(false)}, func(p *store.Pixel) { p.ServerSideEnabled = false }},
				{"client side on", store.PixelPatch{ClientSideEnabled: ptr(true)}, func(p *store.Pixel) { p.ClientSideEnabled = true }},
				{"test code", store.PixelPatch{TestEventCode: ptr("")}, func(p *store.Pixel) { p.TestEventCode = "" }},
				{
					"domains",
					store.PixelPatch{Domains: &[]string{"a.example.org"}},
					func(p *store.Pixel) { p.Domains = []string{"a.example.org"} },
				},
				{"clear domains", store.PixelPatch{Domains: &[]string{}}, func(p *store.Pixel) { p.Domains = nil }},
				{"status", store.PixelPatch{Status: ptr("green")}, func(p *store.Pixel) { p.Status = "green" }},
				{
					"confirm browser conversions off",
					store.PixelPatch{ConfirmBrowserConversions: ptr(false)},
					func(p *store.Pixel) { p.ConfirmBrowserConversions = false },
				},
				{
					"several",
					store.PixelPatch{PixelID: ptr("777"), IsActive: ptr(false), Status: ptr("red")},
					func(p *store.Pixel) { p.PixelID, p.IsActive, p.Status = "777", false, "red" },
				},
			}
			for _, c := range cases {
				before := NewPixel(t, s, a.ID, store.PlatformGoogle)
				want := before
				want.UpdatedAt = time.Time{} // may move
				c.apply(&want)

				after, err := s.UpdatePixel(ctx(t), a.ID, before.UUID, c.patch)
				require.NoError(t, err, c.name)
				requireSamePixel(t, want, after)
				requireTime(t, before.CreatedAt, after.CreatedAt, c.name)

				got, err := s.GetPixel(ctx(t), a.ID, before.UUID)
				require.NoError(t, err, c.name)
				requireSamePixel(t, after, got)
			}
		},
		"UpdatedAtMoves": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			in := samplePixel(a.ID, store.PlatformLinkedIn)
			in.CreatedAt = time.Now().Add(-time.Hour).UTC()
			before, err := s.CreatePixel(ctx(t), in)
			require.NoError(t, err)
			after, err := s.UpdatePixel(ctx(t), a.ID, in.UUID, store.PixelPatch{Status: ptr("amber")})
			require.NoError(t, err)
			require.True(t, after.UpdatedAt.After(before.UpdatedAt), "UpdatedAt must move: %v -> %v", before.UpdatedAt, after.UpdatedAt)
			requireTime(t, before.CreatedAt, after.CreatedAt)
			requireRecent(t, after.UpdatedAt)
		},
		"PatchConflict": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			p1 := NewPixel(t, s, a.ID, store.PlatformX)
			p2 := NewPixel(t, s, a.ID, store.PlatformX)
			_, err := s.UpdatePixel(ctx(t), a.ID, p2.UUID, store.PixelPatch{PixelID: ptr(p1.PixelID), Status: ptr("green")})
			require.ErrorIs(t, err, store.ErrConflict)
			got, err := s.GetPixel(ctx(t), a.ID, p2.UUID)
			require.NoError(t, err)
			requireSamePixel(t, p2, got)
		},
		"AllActivePixels": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			pa := NewPixel(t, s, a.ID, store.PlatformMeta)
			pb := NewPixel(t, s, b.ID, store.PlatformTikTok)
			inactive := samplePixel(a.ID, store.PlatformGoogle)
			inactive.IsActive = false
			_, err := s.CreatePixel(ctx(t), inactive)
			require.NoError(t, err)

			all, err := s.AllActivePixels(ctx(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{pa.UUID, pb.UUID}, pixelUUIDs(all))
			for _, p := range all {
				switch p.UUID {
				case pa.UUID:
					requireSamePixel(t, pa, p)
				case pb.UUID:
					requireSamePixel(t, pb, p)
				}
			}

			_, err = s.UpdatePixel(ctx(t), a.ID, pa.UUID, store.PixelPatch{IsActive: ptr(false)})
			require.NoError(t, err)
			_, err = s.UpdatePixel(ctx(t), a.ID, inactive.UUID, store.PixelPatch{IsActive: ptr(true)})
			require.NoError(t, err)
			all, err = s.AllActivePixels(ctx(t))
			require.NoError(t, err)
			require.ElementsMatch(t, []string{inactive.UUID, pb.UUID}, pixelUUIDs(all))
		},
		"Delete": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			p := NewPixel(t, s, a.ID, store.PlatformMeta)
			keep := NewPixel(t, s, a.ID, store.PlatformMeta)

			require.NoError(t, s.DeletePixel(ctx(t), a.ID, p.UUID))
			_, err := s.GetPixel(ctx(t), a.ID, p.UUID)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.DeletePixel(ctx(t), a.ID, p.UUID), store.ErrNotFound)

			list, err := s.ListPixels(ctx(t), a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{keep.UUID}, pixelUUIDs(list))
			all, err := s.AllActivePixels(ctx(t))
			require.NoError(t, err)
			require.Equal(t, []string{keep.UUID}, pixelUUIDs(all))

			// Platform and pixel id are free again.
			again := samplePixel(a.ID, store.PlatformMeta)
			again.PixelID = p.PixelID
			_, err = s.CreatePixel(ctx(t), again)
			require.NoError(t, err)
		},
	})
}
