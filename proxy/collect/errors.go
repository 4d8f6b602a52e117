package collect

import (
	"errors"
	"net/http"
	"strconv"
)

// Errors callers match with errors.Is. Every error Parse returns is an
// *Error whose Kind is one of these; ErrInvalid matches every Kind except
// ErrTooLarge and ErrMalformed.
var (
	// ErrTooLarge: the body exceeds Limits.MaxBodyBytes (HTTP 413).
	ErrTooLarge = errors.New("beacon too large")
	// ErrMalformed: the body is not one valid JSON document in UTF-8, or a
	// field has the wrong JSON type, or a key is repeated (HTTP 400).
	ErrMalformed = errors.New("malformed beacon")
	// ErrInvalid: well-formed JSON that breaks a validation rule (HTTP 400).
	// It matches all the ErrXxx below.
	ErrInvalid = errors.New("invalid beacon")

	ErrUnsupportedVersion = errors.New("unsupported beacon version")
	ErrUnknownField       = errors.New("unknown field")
	ErrMissingField       = errors.New("missing required field")
	ErrNoEvents           = errors.New("no events")
	ErrTooManyEvents      = errors.New("too many events")
	ErrUnknownEvent       = errors.New("unknown event name")
	ErrInvalidEventID     = errors.New("invalid event id")
	ErrInvalidTimestamp   = errors.New("timestamp out of range")
	ErrInvalidURL         = errors.New("invalid url")
	ErrInvalidClickID     = errors.New("invalid click id")
	ErrInvalidProps       = errors.New("invalid props")
	ErrInvalidUser        = errors.New("invalid user data")
	ErrInvalidConsent     = errors.New("invalid consent")
	ErrInvalidSession     = errors.New("invalid session")
)

// Error says which rule a beacon broke and where. It never carries any part
// of the beacon's content (which may hold personal data or click ids): only
// the rule, the event index and a constant field path.
type Error struct {
	// Kind is one of the package's sentinel errors.
	Kind error
	// Event is the index of the offending event in "events", or -1 when the
	// error is not about one event.
	Event int
	// Field is a constant path such as "id", "props", "ids.fbc"; empty when
	// the error is about the whole body.
	Field string
}

// Error implements error: "cannot parse beacon: events[2].id: invalid event id".
func (e *Error) Error() string {
	s := "cannot parse beacon: "
	if e.Event >= 0 {
		s += "events[" + strconv.Itoa(e.Event) + "]"
		if e.Field != "" {
			s += "."
		}
	}
	if e.Field != "" {
		s += e.Field
	}
	if e.Event >= 0 || e.Field != "" {
		s += ": "
	}
	return s + e.Kind.Error()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Is makes every validation Kind match ErrInvalid.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid && e.Kind != ErrTooLarge && e.Kind != ErrMalformed
}

// StatusCode maps an error from Parse to the HTTP status the collect
// endpoint answers: 413 for ErrTooLarge, 400 for malformed or invalid
// beacons, 500 for anything else (which Parse never returns).
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusNoContent
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}
