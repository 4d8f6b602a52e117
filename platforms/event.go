// Package platforms holds what every ad-platform adapter and the edge share:
// the one event registry (this file) and, in later files, the internal event
// model and the Destination seam. It imports only the standard library.
package platforms

import "time"

// Class is an event's dedup class. It decides how long a (tenant, canonical
// name, event_id) key stays live and whether a later copy of the event is
// merged into a pending one (conversions) or simply dropped (high volume).
type Class uint8

// Dedup classes. The zero value is invalid so a forgotten field is visible.
const (
	// ClassHighVolume: events a page fires many times per visit (page_view,
	// view_content, search) and custom events. Deduplicated for
	// DefaultHighVolumeWindow, long enough to absorb the loader's retries.
	ClassHighVolume Class = iota + 1
	// ClassConversion: events an advertiser optimises for and that a
	// tenant's server also reports (purchase, lead, signup, ...). Deduplicated
	// for DefaultConversionWindow, the window Meta and TikTok use to pair a
	// browser copy with a server copy.
	ClassConversion
)

// Default dedup windows per class (SPEC §7.3). Operators may configure
// others; these are the values used when they do not.
const (
	DefaultConversionWindow = 48 * time.Hour
	DefaultHighVolumeWindow = 10 * time.Minute
)

// String returns "conversion" or "high_volume" (the names used in config and
// metrics labels).
func (c Class) String() string {
	switch c {
	case ClassConversion:
		return "conversion"
	case ClassHighVolume:
		return "high_volume"
	default:
		return "invalid"
	}
}

// DefaultWindow returns the class's default dedup window, or 0 for an
// invalid class.
func (c Class) DefaultWindow() time.Duration {
	switch c {
	case ClassConversion:
		return DefaultConversionWindow
	case ClassHighVolume:
		return DefaultHighVolumeWindow
	default:
		return 0
	}
}

// Internal canonical event names: SPEC §6 plus the extra events of
// platforms.md §6. These are the names stored, deduplicated and mapped to
// each platform's own name.
const (
	EventPageView         = "page_view"
	EventViewContent      = "view_content"
	EventLead             = "lead"
	EventSignup           = "signup"
	EventAddToCart        = "add_to_cart"
	EventPurchase         = "purchase"
	EventContact          = "contact"
	EventSchedule         = "schedule"
	EventInitiateCheckout = "initiate_checkout"
	EventAddPaymentInfo   = "add_payment_info"
	EventSearch           = "search"
	EventSubscribe        = "subscribe"
	EventStartTrial       = "start_trial"
	EventAddToWishlist    = "add_to_wishlist"
)

// CustomPrefix starts every custom event name: "custom:" followed by 1 to
// MaxCustomNameLen characters of [a-z0-9_].
const CustomPrefix = "custom:"

// MaxCustomNameLen bounds the part of a custom event name after CustomPrefix.
const MaxCustomNameLen = 40

// EventSpec describes one event of the registry.
type EventSpec struct {
	// Name is the internal canonical name (e.g. "purchase"). For custom
	// events returned by CanonicalBytes it is empty, because a custom name is
	// never rewritten: its canonical form is the input itself (returning it as
	// a string would allocate). Canonical(string) does fill it.
	Name string
	// Class is the dedup class.
	Class Class
	// Custom reports a "custom:<name>" event.
	Custom bool
}

// Events returns the built-in events in a stable order (a new slice on each
// call; callers may keep or modify it).
func Events() []EventSpec {
	names := []string{
		EventPageView, EventViewContent, EventLead, EventSignup, EventAddToCart,
		EventPurchase, EventContact, EventSchedule, EventInitiateCheckout,
		EventAddPaymentInfo, EventSearch, EventSubscribe, EventStartTrial,
		EventAddToWishlist,
	}
	out := make([]EventSpec, 0, len(names))
	for _, n := range names {
		spec, _ := builtin(n)
		out = append(out, spec)
	}
	return out
}

// Canonical maps an event name as a page, a tenant's server or a platform
// spells it to the registry entry, so the browser copy and the server copy
// of one conversion always meet under the same dedup key. It accepts:
//   - the internal names (e.g. "purchase");
//   - the platforms' standard names, exactly as they spell them: Meta and
//     TikTok PascalCase ("Purchase", "CompleteRegistration", "PageView"),
//     TikTok's legacy names ("PlaceAnOrder", "CompletePayment",
//     "SubmitForm"), GA4 recommended events ("generate_lead", "sign_up",
//     "begin_checkout", "view_item") and the seed table's names
//     ("Registration", "SignUp", "BookAppointment", "book_appointment");
//   - custom events "custom:<name>" with <name> in [a-z0-9_]{1,40}, which
//     are ClassHighVolume and returned unchanged.
//
// Matching is case-sensitive, as it is on Meta, TikTok and GA4.
func Canonical(name string) (EventSpec, bool) {
	if spec, ok := builtin(name); ok {
		return spec, true
	}
	if !IsCustomName(name) {
		return EventSpec{}, false
	}
	return EventSpec{Name: name, Class: ClassHighVolume, Custom: true}, true
}

// CanonicalBytes is Canonical for a byte slice; it does not allocate. For a
// custom event the returned Spec.Name is empty: the canonical name is name.
func CanonicalBytes(name []byte) (EventSpec, bool) {
	// The compiler turns string(name) in a switch into a non-allocating
	// comparison.
	if spec, ok := builtin(string(name)); ok {
		return spec, true
	}
	if !isCustomBytes(name) {
		return EventSpec{}, false
	}
	return EventSpec{Class: ClassHighVolume, Custom: true}, true
}

// IsCustomName reports whether name is a valid custom event name
// (^custom:[a-z0-9_]{1,40}$).
func IsCustomName(name string) bool {
	if len(name) <= len(CustomPrefix) || len(name) > len(CustomPrefix)+MaxCustomNameLen {
		return false
	}
	if name[:len(CustomPrefix)] != CustomPrefix {
		return false
	}
	for i := len(CustomPrefix); i < len(name); i++ {
		if !customChar(name[i]) {
			return false
		}
	}
	return true
}

func isCustomBytes(name []byte) bool {
	if len(name) <= len(CustomPrefix) || len(name) > len(CustomPrefix)+MaxCustomNameLen {
		return false
	}
	if string(name[:len(CustomPrefix)]) != CustomPrefix {
		return false
	}
	for _, c := range name[len(CustomPrefix):] {
		if !customChar(c) {
			return false
		}
	}
	return true
}

func customChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
}

// builtin is the registry itself: an immutable switch, so there is no
// package-level state. Dedup classes follow platforms.md §6: what a platform
// optimises for and a tenant's server may also report is a conversion
// (48 h, the Meta/TikTok pairing window, and merged before the first send);
// events fired many times per visit are high volume (10 min: page_view,
// view_content, search). add_to_cart is a conversion: it is a standard
// optimisation event on Meta, TikTok and LinkedIn, tenants do report it
// server-side, and its volume is a fraction of page views. Custom events
// are high volume: nothing says a server copy exists.
func builtin(name string) (EventSpec, bool) {
	switch name {
	// High volume.
	case EventPageView, "PageView", "Pageview":
		return EventSpec{Name: EventPageView, Class: ClassHighVolume}, true
	case EventViewContent, "ViewContent", "view_item":
		return EventSpec{Name: EventViewContent, Class: ClassHighVolume}, true
	case EventSearch, "Search":
		return EventSpec{Name: EventSearch, Class: ClassHighVolume}, true

	// Conversions.
	case EventLead, "Lead", "generate_lead", "SubmitForm":
		return EventSpec{Name: EventLead, Class: ClassConversion}, true
	case EventSignup, "CompleteRegistration", "sign_up", "Registration", "SignUp":
		return EventSpec{Name: EventSignup, Class: ClassConversion}, true
	case EventAddToCart, "AddToCart":
		return EventSpec{Name: EventAddToCart, Class: ClassConversion}, true
	case EventPurchase, "Purchase", "PlaceAnOrder", "CompletePayment", "complete_payment":
		return EventSpec{Name: EventPurchase, Class: ClassConversion}, true
	case EventContact, "Contact":
		return EventSpec{Name: EventContact, Class: ClassConversion}, true
	case EventSchedule, "Schedule", "book_appointment", "BookAppointment":
		return EventSpec{Name: EventSchedule, Class: ClassConversion}, true
	case EventInitiateCheckout, "InitiateCheckout", "begin_checkout":
		return EventSpec{Name: EventInitiateCheckout, Class: ClassConversion}, true
	case EventAddPaymentInfo, "AddPaymentInfo":
		return EventSpec{Name: EventAddPaymentInfo, Class: ClassConversion}, true
	case EventSubscribe, "Subscribe":
		return EventSpec{Name: EventSubscribe, Class: ClassConversion}, true
	case EventStartTrial, "StartTrial":
		return EventSpec{Name: EventStartTrial, Class: ClassConversion}, true
	case EventAddToWishlist, "AddToWishlist":
		return EventSpec{Name: EventAddToWishlist, Class: ClassConversion}, true
	}
	return EventSpec{}, false
}
