package platforms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		name  string
		class platforms.Class
	}{
		// Internal names map to themselves.
		{"page_view", "page_view", platforms.ClassHighVolume},
		{"view_content", "view_content", platforms.ClassHighVolume},
		{"search", "search", platforms.ClassHighVolume},
		{"lead", "lead", platforms.ClassConversion},
		{"signup", "signup", platforms.ClassConversion},
		{"add_to_cart", "add_to_cart", platforms.ClassConversion},
		{"purchase", "purchase", platforms.ClassConversion},
		{"contact", "contact", platforms.ClassConversion},
		{"schedule", "schedule", platforms.ClassConversion},
		{"initiate_checkout", "initiate_checkout", platforms.ClassConversion},
		{"add_payment_info", "add_payment_info", platforms.ClassConversion},
		{"subscribe", "subscribe", platforms.ClassConversion},
		{"start_trial", "start_trial", platforms.ClassConversion},
		{"add_to_wishlist", "add_to_wishlist", platforms.ClassConversion},
		// Meta / TikTok standard names.
		{"PageView", "page_view", platforms.ClassHighVolume},
		{"Pageview", "page_view", platforms.ClassHighVolume},
		{"ViewContent", "view_content", platforms.ClassHighVolume},
		{"Search", "search", platforms.ClassHighVolume},
		{"Lead", "lead", platforms.ClassConversion},
		{"CompleteRegistration", "signup", platforms.ClassConversion},
		{"AddToCart", "add_to_cart", platforms.ClassConversion},
		{"Purchase", "purchase", platforms.ClassConversion},
		{"Contact", "contact", platforms.ClassConversion},
		{"Schedule", "schedule", platforms.ClassConversion},
		{"InitiateCheckout", "initiate_checkout", platforms.ClassConversion},
		{"AddPaymentInfo", "add_payment_info", platforms.ClassConversion},
		{"Subscribe", "subscribe", platforms.ClassConversion},
		{"StartTrial", "start_trial", platforms.ClassConversion},
		{"AddToWishlist", "add_to_wishlist", platforms.ClassConversion},
		// TikTok legacy names.
		{"PlaceAnOrder", "purchase", platforms.ClassConversion},
		{"CompletePayment", "purchase", platforms.ClassConversion},
		{"complete_payment", "purchase", platforms.ClassConversion},
		{"SubmitForm", "lead", platforms.ClassConversion},
		// GA4 recommended events.
		{"generate_lead", "lead", platforms.ClassConversion},
		{"sign_up", "signup", platforms.ClassConversion},
		{"begin_checkout", "initiate_checkout", platforms.ClassConversion},
		{"view_item", "view_content", platforms.ClassHighVolume},
		// Seed table names.
		{"Registration", "signup", platforms.ClassConversion},
		{"SignUp", "signup", platforms.ClassConversion},
		{"BookAppointment", "schedule", platforms.ClassConversion},
		{"book_appointment", "schedule", platforms.ClassConversion},
		// Custom events.
		{"custom:newsletter_optin", "custom:newsletter_optin", platforms.ClassHighVolume},
		{"custom:a", "custom:a", platforms.ClassHighVolume},
		{"custom:" + strings.Repeat("z", 40), "custom:" + strings.Repeat("z", 40), platforms.ClassHighVolume},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			spec, ok := platforms.Canonical(tt.in)
			require.True(t, ok)
			require.Equal(t, tt.name, spec.Name)
			require.Equal(t, tt.class, spec.Class)
			require.Equal(t, strings.HasPrefix(tt.in, "custom:"), spec.Custom)

			bspec, ok := platforms.CanonicalBytes([]byte(tt.in))
			require.True(t, ok)
			require.Equal(t, tt.class, bspec.Class)
			require.Equal(t, spec.Custom, bspec.Custom)
			if spec.Custom {
				require.Empty(t, bspec.Name, "custom names are the input itself")
			} else {
				require.Equal(t, tt.name, bspec.Name)
			}
		})
	}
}

func TestCanonicalRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "purchase ", " purchase", "PURCHASE", "Purchase\x00", "pageview",
		"custom:", "custom:Foo", "custom:a-b", "custom:a b", "custom:é",
		"custom:" + strings.Repeat("z", 41), "Custom:a", "custom", "custom:a\n",
		"screen_view", "session_start", "Donate",
	} {
		_, ok := platforms.Canonical(in)
		require.False(t, ok, "%q", in)
		_, ok = platforms.CanonicalBytes([]byte(in))
		require.False(t, ok, "%q", in)
	}
}

func TestEventsAreCanonical(t *testing.T) {
	t.Parallel()
	events := platforms.Events()
	require.Len(t, events, 14)
	seen := map[string]bool{}
	for _, e := range events {
		require.False(t, seen[e.Name], "duplicate %q", e.Name)
		seen[e.Name] = true
		got, ok := platforms.Canonical(e.Name)
		require.True(t, ok)
		require.Equal(t, e, got)
		require.False(t, e.Custom)
		require.NotZero(t, e.Class.DefaultWindow())
	}
}

func TestClass(t *testing.T) {
	t.Parallel()
	require.Equal(t, "conversion", platforms.ClassConversion.String())
	require.Equal(t, "high_volume", platforms.ClassHighVolume.String())
	require.Equal(t, "invalid", platforms.Class(0).String())
	require.Equal(t, 48*time.Hour, platforms.ClassConversion.DefaultWindow())
	require.Equal(t, 10*time.Minute, platforms.ClassHighVolume.DefaultWindow())
	require.Zero(t, platforms.Class(0).DefaultWindow())
}
