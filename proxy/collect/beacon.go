package collect

import (
	"github.com/valyala/fastjson"

	"github.com/jaraba/pixelgw/platforms"
)

// Beacon is one parsed and validated collect beacon. Every []byte field is a
// copy held in the Beacon's own arena, never a view of the request body, so
// the body (fasthttp reuses it after the handler returns) may be dropped as
// soon as Parse returns. The fields stay valid until the Beacon is parsed
// into again, Reset or released; copy (string(b)) what must outlive it.
//
// A Beacon is not safe for concurrent use. Get one from Parser.Acquire and
// give it back with Parser.Release.
type Beacon struct {
	_ noCopy

	// Version is the wire version ("v"); always 1 today.
	Version int
	// Events holds 1..Limits.MaxEvents events, in the beacon's order.
	Events []Event
	// IDs are the click and browser ids the loader read from the landing URL
	// and first-party cookies. Absent ids are nil.
	IDs ClickIDs
	// SessionID is the loader's session id ("sid", digits), for GA4's
	// session_id. Nil when absent.
	SessionID []byte
	// Consent is the loader's view of the visitor's decision. It is advisory:
	// the signed consent cookie is the authority.
	Consent Consent

	buf        []byte  // arena for every copied string
	props      []Field // arena for Event.Props
	elems      []Value // arena for array elements
	itemFields []Field // arena for fields of objects inside arrays
	scratch    []byte  // raw number text, for strict grammar checks
	jp         fastjson.Parser
}

// Event is one event of a beacon.
type Event struct {
	// Name is the internal canonical name ("purchase", "custom:foo"): a
	// platform spelling such as "Purchase" has already been mapped.
	Name []byte
	// Spec is the registry entry (dedup class; Custom). For a custom event
	// Spec.Name is empty: Name is the canonical name.
	Spec platforms.EventSpec
	// ID is the event_id in canonical lowercase 36-character form.
	ID []byte
	// UUID is ID's 16 bytes, for compact dedup keys.
	UUID [16]byte
	// TS is the event time in Unix milliseconds, within the configured skew
	// of the time passed to Parse.
	TS int64
	// URL is the page URL (absolute http/https).
	URL []byte
	// Ref is the referrer (absolute http/https), nil when absent.
	Ref []byte
	// EngagementMS is the loader's engagement time for GA4 sessions
	// ("eng"), 0 when absent.
	EngagementMS int64
	// Props are the event's properties in the beacon's order; null values
	// are dropped.
	Props []Field
	// User is the optional user data the page passed (raw or already
	// SHA-256 hashed; hashing happens per platform at delivery).
	User UserData
}

// ClickIDs are the advertising ids of the visitor, each nil when absent.
type ClickIDs struct {
	FBP     []byte // Meta _fbp cookie: fb.<n>.<ms>.<random>
	FBC     []byte // Meta _fbc cookie: fb.<n>.<ms>.<fbclid>
	GCLID   []byte // Google Ads click id
	GBRAID  []byte // Google Ads app-to-web click id (iOS)
	WBRAID  []byte // Google Ads web-to-app click id (iOS)
	TTCLID  []byte // TikTok click id
	TTP     []byte // TikTok _ttp cookie
	LiFatID []byte // LinkedIn first-party ads tracking id
	TWCLID  []byte // X click id
}

// Consent is the decision the loader believes applies.
type Consent struct {
	// Present reports whether the beacon carried "consent".
	Present    bool
	Analytics  bool
	Marketing  bool
	Functional bool
	// Policy is the policy version the visitor decided on, nil if absent.
	Policy []byte
}

// UserData is what the page knows about the visitor (Meta's short keys).
// Values are raw or 64-lowercase-hex SHA-256 digests; nil when absent.
type UserData struct {
	Email       []byte // em
	Phone       []byte // ph
	FirstName   []byte // fn
	LastName    []byte // ln
	Gender      []byte // ge
	DateOfBirth []byte // db
	City        []byte // ct
	State       []byte // st
	Zip         []byte // zp
	Country     []byte // country
	ExternalID  []byte // external_id
}

// Kind is the type of a prop value.
type Kind uint8

// Prop value kinds.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
	KindArray  // only as a prop's value: elements are scalars or objects
	KindObject // only as an array element: fields are scalars
)

// Value is a prop value. Only the field of its Kind is set.
type Value struct {
	Kind   Kind
	Str    []byte
	Num    float64
	Bool   bool
	Elems  []Value // KindArray
	Fields []Field // KindObject
}

// Field is a key and its value.
type Field struct {
	Key   []byte
	Value Value
}

// Reset empties the Beacon and keeps its memory for the next Parse.
func (b *Beacon) Reset() {
	// Clear the arenas' elements so the GC does not keep old Values' slices
	// reachable through spare capacity; they point into buf anyway, which
	// is kept, so this is cheap hygiene rather than a leak fix.
	clear(b.Events)
	b.Events = b.Events[:0]
	b.IDs = ClickIDs{}
	b.SessionID = nil
	b.Consent = Consent{}
	b.Version = 0
	b.buf = b.buf[:0]
	clear(b.props)
	b.props = b.props[:0]
	clear(b.elems)
	b.elems = b.elems[:0]
	clear(b.itemFields)
	b.itemFields = b.itemFields[:0]
}

// Prop returns the value of the event's prop key and whether it exists.
func (e *Event) Prop(key string) (Value, bool) {
	for i := range e.Props {
		if string(e.Props[i].Key) == key {
			return e.Props[i].Value, true
		}
	}
	return Value{}, false
}

// noCopy makes go vet's copylocks check flag a copied Beacon (its slices
// would alias the original's arena).
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
