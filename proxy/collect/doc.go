// Package collect parses and validates the beacons the loader posts to a
// tenant's collect path. It is the edge's hot path: parsing uses fastjson
// (no reflection), Beacons are pooled, and a parse of a reused Beacon does
// not allocate (pinned by alloc_test.go). The HTTP handler that enriches,
// filters by consent, dedupes and enqueues lives elsewhere; this package
// only turns bytes into a validated Beacon or a typed error.
//
// # Wire format (v1)
//
// The loader POSTs one JSON object as the body, with Content-Type
// text/plain (optionally ;charset=UTF-8, as sendBeacon sends it) so no CORS
// preflight is needed. Nothing goes in the URL.
//
//	{
//	  "v": 1,
//	  "events": [{
//	    "name":  "purchase",
//	    "id":    "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
//	    "ts":    1732890000000,
//	    "url":   "https://www.shop.com/checkout/done",
//	    "ref":   "https://www.shop.com/cart",
//	    "eng":   5230,
//	    "props": {"value": 12.5, "currency": "EUR", "order_id": "A-1001",
//	              "content_ids": ["sku1", "sku2"],
//	              "contents": [{"id": "sku1", "quantity": 1, "item_price": 10}]},
//	    "user":  {"em": "jane@example.com", "external_id": "u-42"}
//	  }],
//	  "ids": {"fbp": "fb.1.1732880000000.1116446470", "fbc": "fb.1.1732880000000.AbC",
//	          "gclid": "...", "gbraid": "...", "wbraid": "...", "ttclid": "E.C.P.x",
//	          "ttp": "...", "li_fat_id": "...", "twclid": "..."},
//	  "sid": "1732889000",
//	  "consent": {"analytics": true, "marketing": true, "functional": false, "policy": "2026-01"}
//	}
//
// Top level: "v" (required, the integer 1), "events" (required, 1 to
// Limits.MaxEvents objects), "ids", "sid", "consent" (optional). Any other
// key is ErrUnknownField; a repeated key is ErrMalformed.
//
// Event keys:
//   - "name" (required): an internal event name, a platform's standard
//     spelling of one ("Purchase", "CompleteRegistration", "generate_lead":
//     see platforms.Canonical; Beacon events always carry the canonical
//     name), or "custom:<[a-z0-9_]{1,40}>". Otherwise ErrUnknownEvent.
//   - "id" (required): the event_id, a UUID of any version in the
//     36-character 8-4-4-4-12 form, either case (stored lowercase); the
//     loader generates one when the page passed none. The nil and max UUIDs
//     are rejected.
//   - "ts" (required): event time in Unix milliseconds, an integer within
//     [now-MaxPastSkew, now+MaxFutureSkew].
//   - "url" (required), "ref" (optional; "" or null means none): absolute
//     http(s) URLs of printable ASCII, host without userinfo, at most
//     MaxURLBytes.
//   - "eng" (optional): GA4 engagement time in ms, integer ≤ 24 h.
//   - "props" (optional object or null): at most MaxProps keys matching
//     ^[A-Za-z_][A-Za-z0-9_]{0,39}$, unique. A value is a string (at most
//     MaxStringBytes, no control characters but tab/CR/LF), a finite
//     number, a bool, null (dropped), or an array of at most MaxArrayLen
//     elements. Array elements are scalars or flat objects (at most
//     MaxItemFields scalar fields with the same key rules), which covers
//     Meta's content_ids/contents and GA4's items. One level of nesting only:
//     an object as a prop's direct value, or an array inside an array, is
//     ErrInvalidProps.
//   - "user" (optional object or null): Meta's short keys em, ph, fn, ln,
//     ge, db, ct, st, zp, country, external_id; string values (raw or
//     already SHA-256 hex; hashing happens per platform at delivery), at
//     most MaxStringBytes, no control characters. "" and null mean absent.
//
// "ids" (optional): fbp, fbc, gclid, gbraid, wbraid, ttclid, ttp, li_fat_id,
// twclid, each at most MaxClickIDBytes of [A-Za-z0-9._~+/=-]; fbp must be
// fb.<d>.<ms>.<digits>[.<appendix>] and fbc fb.<d>.<ms>.<fbclid>. "" and
// null mean absent. The loader reads them from the landing URL and the
// first-party cookies; the edge never takes them from a URL.
//
// "sid" (optional): the loader's session id for GA4, 1 to 20 digits, as a
// string.
//
// "consent" (optional): the decision as the loader knows it — analytics,
// marketing, functional (bools) and policy ([A-Za-z0-9._:-]{1,64}). It is
// advisory only: the signed jaraba_consent cookie is the authority, and the
// edge may use this copy only to notice a cookie older than the loader's
// state.
//
// The body must be at most Limits.MaxBodyBytes (ErrTooLarge, 413), valid
// UTF-8 and strict JSON: invalid escapes, lone surrogates, and numbers
// outside the JSON grammar (NaN, Inf, 01, +1) are ErrMalformed. Any error
// is an *Error naming the rule, the event index and a constant field path,
// never the offending content; StatusCode maps it to 413 or 400.
//
// Hostile shapes are rejected by a byte scan before the JSON parser builds
// anything: nesting deeper than 8 levels (ErrMalformed), an "events" array
// longer than MaxEvents (ErrTooManyEvents), and any other array or object
// wider than twice the widest limit (ErrInvalidProps, Event -1).
//
// Two events of one beacon with the same name and id are both returned:
// deduplication belongs to the enqueue seam.
//
// # Ownership
//
// Parse copies every string it keeps into the Beacon's own arena, so the
// request body (reused by fasthttp after the handler returns) may be
// dropped at once. The Beacon's slices stay valid until it is parsed into
// again, Reset or released.
package collect
