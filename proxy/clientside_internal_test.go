package proxy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tag"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

func loaderTenant(pixels ...store.Pixel) *tenant.Tenant {
	return &tenant.Tenant{
		ID: "t1", LoaderPath: "/s/k4f9q2.js", CollectPath: "/k4/q7mz", ConsentPath: "/k4/c8xw",
		Settings: store.TenantSettings{LoaderPath: "/s/k4f9q2.js", CollectPath: "/k4/q7mz", ConsentPath: "/k4/c8xw"},
		Pixels:   pixels,
	}
}

// TestLoaderConfigPlatformsAreAllActivePixels: the loader's platforms
// (whether beacons are sent at all) come from every active pixel, server-
// side only ones included; a tenant whose pixels are all server-side only
// gets beacons and no browser tag.
func TestLoaderConfigPlatformsAreAllActivePixels(t *testing.T) {
	t.Parallel()
	c := loaderConfig(loaderTenant(
		store.Pixel{Platform: store.PlatformMeta, PixelID: "1234567890", ServerSideEnabled: true},
		store.Pixel{Platform: store.PlatformGoogle, PixelID: "G-ABC123XYZ", ServerSideEnabled: true},
		store.Pixel{Platform: store.PlatformMeta, PixelID: "1234567891", ServerSideEnabled: true},
	))
	require.Equal(t, []string{store.PlatformMeta, store.PlatformGoogle}, c.Platforms)
	require.Empty(t, c.ClientSide)
	_, err := tag.Build(c)
	require.NoError(t, err)
}

// TestLoaderConfigClientSide: only client-side pixels get a browser tag,
// with the adapters' standard names, the pixel's event_map overrides ("" =
// not sent), LinkedIn rule ids and X tag ids in the tags' form; a Google
// pixel that is also server-side gets none; no credential or test code
// reaches the config.
func TestLoaderConfigClientSide(t *testing.T) {
	t.Parallel()
	c := loaderConfig(loaderTenant(
		store.Pixel{Platform: store.PlatformMeta, PixelID: "1234567890", ClientSideEnabled: true, ServerSideEnabled: true,
			TestEventCode: "TEST999", Credentials: store.Sealed{KeyID: "k1", Ciphertext: []byte("sealed-canary")},
			CredentialHints: map[string]string{"access_token": "hint-canary"},
			EventMap:        map[string]string{"lead": "", "purchase": "Zpurchase", "custom:quiz": "Quiz", "custom:off": ""}},
		store.Pixel{Platform: store.PlatformGoogle, PixelID: "G-SERVER1", ClientSideEnabled: true, ServerSideEnabled: true},
		store.Pixel{Platform: store.PlatformGoogle, PixelID: "G-CLIENT1", ClientSideEnabled: true},
		store.Pixel{Platform: store.PlatformLinkedIn, PixelID: "7654321", ClientSideEnabled: true,
			EventMap: map[string]string{"purchase": "urn:lla:llaPartnerConversion:222", "lead": ""}},
		store.Pixel{Platform: store.PlatformTikTok, PixelID: "CDEMO0000000000000AB", ClientSideEnabled: true},
		store.Pixel{Platform: store.PlatformX, PixelID: "o8z6j", ClientSideEnabled: true,
			EventMap: map[string]string{"purchase": "o87nf", "lead": "tw-o8z6j-o87ne"}},
		store.Pixel{Platform: store.PlatformTikTok, PixelID: "CSERVERONLY000000000", ServerSideEnabled: true},
	))
	require.Equal(t, []string{"meta", "google", "linkedin", "tiktok", "twitter"}, c.Platforms)
	byID := map[string]tag.ClientPixel{}
	for _, p := range c.ClientSide {
		byID[p.ID] = p
	}
	require.Len(t, byID, 5)
	require.NotContains(t, byID, "G-SERVER1", "GA4 does not deduplicate: never both")
	require.NotContains(t, byID, "CSERVERONLY000000000")

	m := byID["1234567890"]
	require.True(t, m.Custom)
	require.Equal(t, "PageView", m.Events["page_view"])
	require.Equal(t, "CompleteRegistration", m.Events["signup"])
	require.Equal(t, "Zpurchase", m.Events["purchase"])
	require.NotContains(t, m.Events, "lead")
	require.Equal(t, "Quiz", m.Events["custom:quiz"])
	require.Equal(t, "", m.Events["custom:off"])
	require.Contains(t, m.Events, "custom:off", `"" keeps the custom event from its default name`)

	g := byID["G-CLIENT1"]
	require.True(t, g.Custom)
	require.Equal(t, "view_item", g.Events["view_content"])
	require.Equal(t, "purchase", g.Events["purchase"])

	require.Equal(t, map[string]string{"purchase": "222"}, byID["7654321"].Events)
	tt := byID["CDEMO0000000000000AB"]
	require.False(t, tt.Custom)
	require.Equal(t, "Purchase", tt.Events["purchase"])
	require.NotContains(t, tt.Events, "page_view", "TikTok has no standard page view")
	require.Equal(t, map[string]string{"purchase": "tw-o8z6j-o87nf", "lead": "tw-o8z6j-o87ne"}, byID["o8z6j"].Events)

	a, err := tag.Build(c)
	require.NoError(t, err)
	s := string(a.Script())
	for _, secret := range []string{"TEST999", "sealed-canary", "hint-canary", "G-SERVER1", "CSERVERONLY"} {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, s, "https://www.googletagmanager.com/gtag/js?id=G-CLIENT1")
}
