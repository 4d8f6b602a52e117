package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func exerciseConfigVersion(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	last, err := s.ConfigVersion(ctx(t))
	require.NoError(t, err)

	var ten store.Tenant
	var dom store.TenantDomain
	var px store.Pixel
	writes := []struct {
		name string
		fn   func() error
	}{
		{"create tenant", func() error { ten = NewTenant(t, s); return nil }},
		{"update tenant", func() error {
			_, err := s.UpdateTenant(ctx(t), ten.ID, store.TenantPatch{Name: ptr("renamed")})
			return err
		}},
		{"add domain", func() error { dom = NewDomain(t, s, ten.ID); return nil }},
		{"verify domain", func() error {
			return s.SetDomainVerification(ctx(t), ten.ID, dom.Hostname, store.VerificationVerified)
		}},
		{"create pixel", func() error { px = NewPixel(t, s, ten.ID, store.PlatformMeta); return nil }},
		{"update pixel", func() error {
			_, err := s.UpdatePixel(ctx(t), ten.ID, px.UUID, store.PixelPatch{IsActive: ptr(false)})
			return err
		}},
		{"add cookie key", func() error { return s.AddCookieKey(ctx(t), sampleCookieKey(ten.ID, "k1", time.Time{})) }},
		{"retire cookie key", func() error { return s.RetireCookieKey(ctx(t), ten.ID, "k1") }},
		{"delete pixel", func() error { return s.DeletePixel(ctx(t), ten.ID, px.UUID) }},
		{"delete domain", func() error { return s.DeleteDomain(ctx(t), ten.ID, dom.Hostname) }},
		{"delete tenant", func() error { return s.DeleteTenant(ctx(t), ten.ID) }},
	}
	for _, w := range writes {
		require.NoError(t, w.fn(), w.name)
		v, err := s.ConfigVersion(ctx(t))
		require.NoError(t, err)
		require.Greater(t, v, last, "ConfigVersion must increase after %s", w.name)
		last = v
	}
}

func exerciseSchema(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"MigratedAndIdempotent": func(t *testing.T, s Store) {
			require.NoError(t, s.CheckSchema(ctx(t)))
			applied, latest, err := s.SchemaVersion(ctx(t))
			require.NoError(t, err)
			require.GreaterOrEqual(t, latest, 1)
			require.Equal(t, latest, applied)

			versions, err := s.Migrate(ctx(t))
			require.NoError(t, err)
			require.Empty(t, versions, "a second Migrate applies nothing")
			require.NoError(t, s.CheckSchema(ctx(t)))
		},
		"Ping": func(t *testing.T, s Store) {
			require.NoError(t, s.Ping(ctx(t)))
		},
	})
}

func exerciseDeleteTenant(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	a, b := NewTenant(t, s), NewTenant(t, s)
	type owned struct {
		domain store.TenantDomain
		pixel  store.Pixel
		apiKey store.APIKey
	}
	seed := func(ten store.Tenant) owned {
		var o owned
		o.domain = NewDomain(t, s, ten.ID)
		o.pixel = NewPixel(t, s, ten.ID, store.PlatformMeta)
		require.NoError(t, s.AddCookieKey(ctx(t), sampleCookieKey(ten.ID, "k1", time.Time{})))
		k, err := s.CreateAPIKey(ctx(t), sampleAPIKey(ten.ID))
		require.NoError(t, err)
		o.apiKey = k
		require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{sampleEvent(ten.ID, time.Time{})}))
		_, err = s.AppendConsent(ctx(t), sampleConsent(ten.ID, uuid.NewString(), time.Time{}), "192.0.2.9")
		require.NoError(t, err)
		return o
	}
	oa, ob := seed(a), seed(b)

	require.NoError(t, s.DeleteTenant(ctx(t), a.ID))
	require.ErrorIs(t, s.DeleteTenant(ctx(t), a.ID), store.ErrNotFound)

	_, err := s.GetTenant(ctx(t), a.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetTenantBySlug(ctx(t), a.Slug)
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.ListTenants(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{b.ID}, tenantIDs(list))

	doms, err := s.ListDomains(ctx(t), a.ID)
	require.NoError(t, err)
	require.Empty(t, doms)
	allDoms, err := s.AllDomains(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{ob.domain.Hostname}, hostnames(allDoms))

	_, err = s.GetPixel(ctx(t), a.ID, oa.pixel.UUID)
	require.ErrorIs(t, err, store.ErrNotFound)
	pxs, err := s.ListPixels(ctx(t), a.ID)
	require.NoError(t, err)
	require.Empty(t, pxs)
	allPx, err := s.AllActivePixels(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{ob.pixel.UUID}, pixelUUIDs(allPx))

	keys, err := s.ListCookieKeys(ctx(t), a.ID)
	require.NoError(t, err)
	require.Empty(t, keys)
	allKeys, err := s.AllCookieKeys(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []string{b.ID + "/k1"}, cookieKeyRefs(allKeys))

	_, err = s.APIKeyByPrefix(ctx(t), oa.apiKey.Prefix)
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err := s.APIKeyByPrefix(ctx(t), ob.apiKey.Prefix)
	require.NoError(t, err)
	require.Equal(t, b.ID, got.TenantID)

	// B is intact.
	gotB, err := s.GetTenant(ctx(t), b.ID)
	require.NoError(t, err)
	requireSameTenant(t, b, gotB)
	px, err := s.GetPixel(ctx(t), b.ID, ob.pixel.UUID)
	require.NoError(t, err)
	requireSamePixel(t, ob.pixel, px)

	// A's slug, hostname and pixel are free again.
	again, err := s.CreateTenant(ctx(t), store.Tenant{ID: uuid.NewString(), Slug: a.Slug, Name: "again"})
	require.NoError(t, err)
	d := sampleDomain(again.ID)
	d.Hostname = oa.domain.Hostname
	_, err = s.AddDomain(ctx(t), d)
	require.NoError(t, err)
	p := samplePixel(again.ID, store.PlatformMeta)
	p.PixelID = oa.pixel.PixelID
	_, err = s.CreatePixel(ctx(t), p)
	require.NoError(t, err)
	_, err = s.GetPixel(ctx(t), again.ID, oa.pixel.UUID)
	require.ErrorIs(t, err, store.ErrNotFound)
}
