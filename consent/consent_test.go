package consent_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/store"
)

var (
	none = consent.Decision{}
	all  = consent.Decision{Send: true, ADUserData: true, ADPersonalization: true}
	// ga4Denied is GA4 with Consent Mode v2 ad signals DENIED.
	ga4Denied = consent.Decision{Send: true}
)

func adPlatforms() []string {
	return []string{consent.PlatformMeta, consent.PlatformLinkedIn, consent.PlatformTikTok, consent.PlatformX}
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	require.Equal(t, consent.Policy{HonorGPC: true, AnalyticsOnlyGA4: true, ServerLegalBasis: false}, consent.DefaultPolicy())
}

// TestKnowsEveryStorePlatform: a platform the store accepts but this
// package does not know would silently never be sent.
func TestKnowsEveryStorePlatform(t *testing.T) {
	t.Parallel()
	for _, p := range store.Platforms() {
		require.True(t, consent.IsKnownPlatform(p), p)
	}
	require.ElementsMatch(t, store.Platforms(), append(adPlatforms(), consent.PlatformGoogle))
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	def := consent.DefaultPolicy()
	noGPC := def
	noGPC.HonorGPC = false
	strictGA4 := def
	strictGA4.AnalyticsOnlyGA4 = false
	legal := def
	legal.ServerLegalBasis = true

	rec := func(a, m, f bool) consent.State {
		return consent.State{Analytics: a, Marketing: m, Functional: f, HasRecord: true}
	}
	gpc := func(s consent.State) consent.State { s.GPC = true; return s }

	for _, tc := range []struct {
		name   string
		s      consent.State
		p      consent.Policy
		google consent.Decision
		ads    consent.Decision // meta, linkedin, tiktok, twitter
	}{
		{"accept all", rec(true, true, true), def, all, all},
		{"reject all", rec(false, false, false), def, none, none},
		{"functional only", rec(false, false, true), def, none, none},
		{"analytics only", rec(true, false, false), def, ga4Denied, none},
		{"analytics only, tenant refuses analytics-only GA4", rec(true, false, false), strictGA4, none, none},
		{"accept all, tenant refuses analytics-only GA4", rec(true, true, false), strictGA4, all, all},
		{"marketing without analytics", rec(false, true, false), def, none, all},
		{"GPC removes marketing", gpc(rec(true, true, true)), def, ga4Denied, none},
		{"GPC removes marketing, analytics-only GA4 refused", gpc(rec(true, true, true)), strictGA4, none, none},
		{"GPC ignored when not honoured", gpc(rec(true, true, true)), noGPC, all, all},
		{"GPC on a refusal changes nothing", gpc(rec(false, false, false)), def, none, none},
		{"no record", consent.State{}, def, none, none},
		{"no record ignores stray categories", consent.State{Analytics: true, Marketing: true}, def, none, none},
		{"no record, server legal basis", consent.State{}, legal, all, all},
		{"no record, server legal basis, GPC", consent.State{GPC: true}, legal, ga4Denied, none},
		{"no record, server legal basis, GPC not honoured", consent.State{GPC: true}, consent.Policy{ServerLegalBasis: true, AnalyticsOnlyGA4: true}, all, all},
		{"recorded refusal beats server legal basis", rec(false, false, false), legal, none, none},
		{"recorded analytics-only beats server legal basis", rec(true, false, false), legal, ga4Denied, none},
		{"zero policy: GA4 needs marketing too, GPC ignored", gpc(rec(true, true, false)), consent.Policy{}, all, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.google, consent.Allowed(consent.PlatformGoogle, tc.s, tc.p), "google")
			for _, pl := range adPlatforms() {
				require.Equal(t, tc.ads, consent.Allowed(pl, tc.s, tc.p), pl)
			}
			for _, pl := range []string{"", "google_ads", "Meta", "x", "GOOGLE", "unknown"} {
				require.Equal(t, none, consent.Allowed(pl, tc.s, tc.p), "unknown platform %q", pl)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    consent.State
		p    consent.Policy
		want consent.State
	}{
		{"record kept", consent.State{Analytics: true, Marketing: true, HasRecord: true}, consent.DefaultPolicy(), consent.State{Analytics: true, Marketing: true, HasRecord: true}},
		{"gpc", consent.State{Analytics: true, Marketing: true, Functional: true, GPC: true, HasRecord: true}, consent.DefaultPolicy(), consent.State{Analytics: true, Functional: true, GPC: true, HasRecord: true}},
		{"no record", consent.State{Analytics: true, Marketing: true, Functional: true}, consent.DefaultPolicy(), consent.State{}},
		{"no record, legal basis", consent.State{}, consent.Policy{ServerLegalBasis: true}, consent.State{Analytics: true, Marketing: true, Functional: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, consent.Effective(tc.s, tc.p))
		})
	}
}

// FuzzAllowed checks the invariants of the rule over every state, policy
// and platform name.
func FuzzAllowed(f *testing.F) {
	for _, p := range []string{"meta", "google", "linkedin", "tiktok", "twitter", "", "x", "google_ads"} {
		f.Add(p, uint8(0))
		f.Add(p, uint8(0xff))
		f.Add(p, uint8(0b1011011))
	}
	f.Fuzz(func(t *testing.T, platform string, bits uint8) {
		bit := func(i int) bool { return bits&(1<<i) != 0 }
		s := consent.State{Analytics: bit(0), Marketing: bit(1), Functional: bit(2), GPC: bit(3), HasRecord: bit(4)}
		p := consent.Policy{HonorGPC: bit(5), AnalyticsOnlyGA4: bit(6), ServerLegalBasis: bit(7)}
		d := consent.Allowed(platform, s, p)

		// Granted ad signals imply a send.
		if d.ADUserData || d.ADPersonalization {
			require.True(t, d.Send)
		}
		require.Equal(t, d.ADUserData, d.ADPersonalization)
		if !consent.IsKnownPlatform(platform) {
			require.Equal(t, consent.Decision{}, d)
			return
		}
		// What the visitor (or the legal basis) granted, after GPC.
		analytics, marketing := s.Analytics, s.Marketing
		if !s.HasRecord {
			analytics, marketing = p.ServerLegalBasis, p.ServerLegalBasis
		}
		if s.GPC && p.HonorGPC {
			marketing = false
		}
		if d.ADUserData {
			require.True(t, marketing, "ad signals granted without marketing consent")
		}
		if platform == consent.PlatformGoogle {
			require.Equal(t, analytics && (marketing || p.AnalyticsOnlyGA4), d.Send)
			require.Equal(t, d.Send && marketing, d.ADUserData)
		} else {
			require.Equal(t, marketing, d.Send, "ad platform")
		}
		// A recorded refusal is never overridden.
		if s.HasRecord && !s.Marketing && platform != consent.PlatformGoogle {
			require.False(t, d.Send)
		}
		if !s.HasRecord && !p.ServerLegalBasis {
			require.False(t, d.Send)
		}
	})
}

// TestQueuedMatchesAllowed: over every state and policy, the categories an
// event is queued with, read the way the delivery adapters read them (GA4:
// Analytics, ad signals from Marketing; ad platforms: Marketing), give
// exactly Allowed's decision, and an event is admitted only when some
// platform may receive it.
func TestQueuedMatchesAllowed(t *testing.T) {
	t.Parallel()
	for bits := range 256 {
		bit := func(i int) bool { return bits&(1<<i) != 0 }
		s := consent.State{Analytics: bit(0), Marketing: bit(1), Functional: bit(2), GPC: bit(3), HasRecord: bit(4)}
		p := consent.Policy{HonorGPC: bit(5), AnalyticsOnlyGA4: bit(6), ServerLegalBasis: bit(7)}
		q, ok := consent.Queued(s, p)
		anySend := false
		for _, pl := range store.Platforms() {
			d := consent.Allowed(pl, s, p)
			anySend = anySend || d.Send
			var send, ads bool
			if pl == consent.PlatformGoogle {
				send, ads = ok && q.Analytics, ok && q.Analytics && q.Marketing
			} else {
				send, ads = ok && q.Marketing, ok && q.Marketing
			}
			require.Equal(t, d.Send, send, "%s %+v %+v", pl, s, p)
			require.Equal(t, d.ADUserData, ads, "%s %+v %+v", pl, s, p)
		}
		require.Equal(t, anySend, ok, "%+v %+v", s, p)
	}
}

func TestQueued(t *testing.T) {
	t.Parallel()
	def := consent.DefaultPolicy()
	rec := consent.State{Analytics: true, Marketing: true, Functional: true, HasRecord: true}
	gpc := rec
	gpc.GPC = true

	q, ok := consent.Queued(gpc, def)
	require.True(t, ok)
	require.Equal(t, consent.State{Analytics: true, Functional: true, GPC: true, HasRecord: true}, q, "GPC honoured: marketing withdrawn")

	noGPC := def
	noGPC.HonorGPC = false
	q, ok = consent.Queued(gpc, noGPC)
	require.True(t, ok)
	require.True(t, q.Marketing, "GPC not honoured")

	strict := def
	strict.AnalyticsOnlyGA4 = false
	_, ok = consent.Queued(consent.State{Analytics: true, HasRecord: true}, strict)
	require.False(t, ok, "analytics-only refused: nothing may receive it")
	q, ok = consent.Queued(consent.State{Analytics: true, HasRecord: true}, def)
	require.True(t, ok)
	require.Equal(t, consent.State{Analytics: true, HasRecord: true}, q)

	_, ok = consent.Queued(consent.State{}, def)
	require.False(t, ok, "no record")
	legal := def
	legal.ServerLegalBasis = true
	q, ok = consent.Queued(consent.State{}, legal)
	require.True(t, ok)
	require.Equal(t, consent.State{Analytics: true, Marketing: true, Functional: true, HasRecord: true}, q)
}

func TestChoice(t *testing.T) {
	t.Parallel()
	require.Equal(t, "all", consent.Choice(true, true))
	require.Equal(t, "marketing", consent.Choice(false, true))
	require.Equal(t, "analytics", consent.Choice(true, false))
	require.Equal(t, "none", consent.Choice(false, false))
}
