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
	// every category were granted (default false).
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

// IsKnownPlatform reports whether Allowed knows the platform (any other name
// is always refused).
func IsKnownPlatform(platform string) bool {
	switch platform {
	case PlatformMeta, PlatformGoogle, PlatformLinkedIn, PlatformTikTok, PlatformX:
		return true
	}
	return false
}
