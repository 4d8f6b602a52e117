// Package consent is the one place pixelgw's consent rule is written: given a
// visitor's decision (State) and the tenant's policy (Policy), Allowed says
// whether an event may go to a platform and, for GA4, which Consent Mode v2
// ad signals it carries. It is pure (no I/O, no clock) and imports only the
// standard library; the edge, the server-side events API and the delivery
// adapters all ask it.
//
// The rule (SPEC §7.1, consent issue §4):
//
//   - Meta, LinkedIn, TikTok and X (and any ad platform) need marketing
//     consent; without it nothing is sent to them.
//   - GA4 ("google") needs analytics consent. With analytics but without
//     marketing it is sent with ad_user_data and ad_personalization DENIED,
//     if the tenant allows analytics-only sends (Policy.AnalyticsOnlyGA4);
//     otherwise it also needs marketing consent.
//   - Global Privacy Control (Sec-GPC: 1) is a marketing opt-out when the
//     tenant honours it (Policy.HonorGPC, on by default).
//   - An event without a decision (State.HasRecord false — a server-side
//     event whose visitor has no consent record) is unconsented, unless the
//     tenant declares another legal basis for server events
//     (Policy.ServerLegalBasis, off by default). A recorded refusal is never
//     overridden by that legal basis, and GPC still applies.
//   - A platform name this package does not know is refused (fail closed).
//
// Where it is applied: the edge (from the signed consent cookie and the
// request's Sec-GPC header) and the server-side events API (from the
// visitor's latest consent record) both call Queued with the tenant's
// Policy before they admit an event. Queued returns the categories the
// queued event carries; the delivery adapters only read them (GA4 needs
// Analytics and sends ad signals from Marketing, the ad platforms need
// Marketing), which by construction gives the same answer as Allowed
// (TestQueuedMatchesAllowed). The policy thus never has to travel with the
// event nor be looked up again at delivery.
//
// Tenant settings (store.TenantSettings, admin API settings fields, all
// optional): honor_gpc (default true), ga4_analytics_only (default true)
// and server_legal_basis (default false); proxy/tenant.PolicyOf turns them
// into a Policy.
package consent

// Platform names, as the store and the API spell them.
const (
	PlatformMeta     = "meta"
	PlatformGoogle   = "google" // GA4 Measurement Protocol
	PlatformLinkedIn = "linkedin"
	PlatformTikTok   = "tiktok"
	PlatformX        = "twitter"
)

// State is a visitor's consent as the caller knows it: from the signed
// consent cookie at the edge, from the latest consent record for
// server-side events.
type State struct {
	Analytics, Marketing, Functional bool
	// GPC is the Global Privacy Control signal (Sec-GPC: 1) of the request.
	GPC bool
	// HasRecord says a decision exists (a valid cookie or a consent
	// record). False means the visitor never decided: the categories are
	// ignored and the event is unconsented unless Policy.ServerLegalBasis.
	HasRecord bool
}

// Policy is a tenant's consent policy. Its zero value is NOT the default:
// start from DefaultPolicy.
type Policy struct {
	// HonorGPC treats Global Privacy Control as a marketing opt-out
	// (default true).
	HonorGPC bool
	// AnalyticsOnlyGA4 lets GA4 receive events with analytics consent
	// alone, with ad_user_data/ad_personalization DENIED (default true).
	// When false GA4 also needs marketing consent.
	AnalyticsOnlyGA4 bool
	// ServerLegalBasis declares that events without any consent decision
	// (server-side events of a visitor without a record) rest on another
	// legal basis (contract, legitimate interest) and may be sent as if
	// every category were granted (default false): to GA4 with ad signals
	// GRANTED and to Meta, LinkedIn, TikTok and X. It never overrides a
	// recorded decision (a refusal stays a refusal, a revocation is a
	// record) and GPC still removes marketing when HonorGPC. The edge never
	// uses it: a browser without a valid consent cookie sends nothing.
	ServerLegalBasis bool
}

// DefaultPolicy is the policy of a tenant that configured nothing.
func DefaultPolicy() Policy {
	return Policy{HonorGPC: true, AnalyticsOnlyGA4: true, ServerLegalBasis: false}
}

// Decision is what may be sent to one platform.
type Decision struct {
	// Send: the event may be delivered to the platform.
	Send bool
	// ADUserData and ADPersonalization are GA4's Consent Mode v2 signals
	// (true = GRANTED, false = DENIED); both follow marketing consent. They
	// are false whenever Send is false. For the other platforms they equal
	// Send (which already requires marketing).
	ADUserData, ADPersonalization bool
}

// Effective returns the state the rule is applied to: without a record,
// nothing granted (or everything, under a declared server legal basis); then
// GPC withdraws marketing when the policy honours it.
func Effective(s State, p Policy) State {
	if !s.HasRecord {
		granted := p.ServerLegalBasis
		s.Analytics, s.Marketing, s.Functional = granted, granted, granted
	}
	if s.GPC && p.HonorGPC {
		s.Marketing = false
	}
	return s
}

// Allowed applies the policy to one platform.
func Allowed(platform string, s State, p Policy) Decision {
	e := Effective(s, p)
	switch platform {
	case PlatformGoogle:
		if !e.Analytics || (!e.Marketing && !p.AnalyticsOnlyGA4) {
			return Decision{}
		}
		return Decision{Send: true, ADUserData: e.Marketing, ADPersonalization: e.Marketing}
	case PlatformMeta, PlatformLinkedIn, PlatformTikTok, PlatformX:
		if !e.Marketing {
			return Decision{}
		}
		return Decision{Send: true, ADUserData: true, ADPersonalization: true}
	}
	return Decision{}
}

// Queued returns the consent an accepted event is queued with, and whether
// any platform may receive it at all (false: refuse the event, keep
// nothing). The state is Effective's, with analytics withdrawn when,
// without marketing, the tenant refuses analytics-only GA4 sends: a
// delivery adapter that checks Analytics for GA4 (ad signals from
// Marketing) and Marketing for the ad platforms then decides exactly as
// Allowed. HasRecord is set when the event rests on the server legal basis.
func Queued(s State, p Policy) (State, bool) {
	e := Effective(s, p)
	if !e.Marketing && !p.AnalyticsOnlyGA4 {
		e.Analytics = false
	}
	e.HasRecord = s.HasRecord || p.ServerLegalBasis
	return e, e.Analytics || e.Marketing
}

// Choice labels a decision for metrics (pixelgw_consent_decisions_total,
// pixelgw_consent_api_decisions_total): "all" (analytics and marketing),
// "marketing", "analytics" or "none" (functional alone counts as none: no
// event is sent for it).
func Choice(analytics, marketing bool) string {
	switch {
	case analytics && marketing:
		return "all"
	case marketing:
		return "marketing"
	case analytics:
		return "analytics"
	default:
		return "none"
	}
}

// IsKnownPlatform reports whether Allowed knows the platform (any other name
// is always refused).
func IsKnownPlatform(platform string) bool {
	switch platform {
	case PlatformMeta, PlatformGoogle, PlatformLinkedIn, PlatformTikTok, PlatformX:
		return true
	}
	return false
}
