package platformsim

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// GA4 Measurement Protocol (platforms.md §2.1).
//
// /mp/collect answers 204 with an empty body to every POST, as the real
// endpoint does, whatever the payload or api_secret; Request.Accepted and
// Request.Errors tell whether GA4 would have kept it (valid measurement_id
// and api_secret, and a payload the validation below accepts).
//
// /debug/mp/collect answers 200 {"validationMessages":[…]} (empty when
// valid) and, like the real validation server, does not check api_secret.
// Messages ({fieldPath, description, validationCode}):
//   - VALUE_REQUIRED: measurement_id absent, client_id absent, events absent
//     or empty, an event without name;
//   - VALUE_INVALID: body not a JSON object, measurement_id not G-…, an
//     unknown top-level key, a value of the wrong type, consent values other
//     than GRANTED/DENIED (or keys other than ad_user_data/ad_personalization),
//     user_data hashes that are not 64 lowercase hex (raw emails/phones);
//   - EXCEEDED_MAX_ENTITIES: more than 25 events, 25 params per event or 25
//     user properties;
//   - NAME_INVALID: event/param/user-property names not starting with a
//     letter, with characters outside [A-Za-z0-9_], or over 40 (24) chars;
//   - NAME_RESERVED: reserved event names, reserved prefixes (google_, ga_,
//     firebase_), reserved user-property names;
//   - VALUE_OUT_OF_BOUNDS: param values over 100 characters (page_location
//     1,000, page_referrer 420, page_title 300), user-property values over
//     36, timestamp_micros more than 72 h in the past or 15 min in the
//     future, a body over 130 KB.
//
// The triggers other than NAME_INVALID are UNCONFIRMED (platforms.md §7).

var (
	gaTop = keys("client_id", "user_id", "timestamp_micros", "user_properties", "consent",
		"non_personalized_ads", "user_data", "user_location", "ip_override", "device",
		"validation_behavior", "events")
	gaReservedEvents = keys("ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query",
		"adunit_exposure", "app_clear_data", "app_install", "app_update", "app_remove", "error",
		"first_open", "first_visit", "in_app_purchase", "notification_dismiss",
		"notification_foreground", "notification_open", "notification_receive", "os_update",
		"screen_view", "session_start", "user_engagement")
	gaReservedUserProps = keys("first_open_time", "first_visit_time", "last_deep_link_referrer",
		"user_id", "first_open_after_install")
	gaName          = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	gaMeasurementID = regexp.MustCompile(`^G-[A-Z0-9]{4,}$`)
	gaParamLimits   = map[string]int{"page_location": 1000, "page_referrer": 420, "page_title": 300}
)

const (
	gaMaxEvents   = 25
	gaMaxParams   = 25
	gaMaxUProps   = 25
	gaMaxBody     = 130 << 10
	gaMaxAge      = 72 * time.Hour
	gaMaxAhead    = 15 * time.Minute
	gaNameLen     = 40
	gaUPropLen    = 24
	gaValueLen    = 100
	gaUPropValLen = 36
)

type gaMessage struct {
	FieldPath      string `json:"fieldPath"`
	Description    string `json:"description"`
	ValidationCode string `json:"validationCode"`
}

func (s *Sim) google(r *http.Request, rest string, body []byte, now time.Time, _ []int) result {
	debug := false
	switch rest {
	case "/mp/collect":
	case "/debug/mp/collect":
		debug = true
	default:
		return result{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/html; charset=UTF-8"}},
			body: []byte("<!DOCTYPE html><html><body>404. That’s an error.</body></html>"), errs: []string{"unknown path"}}
	}
	if r.Method != http.MethodPost {
		return result{status: http.StatusMethodNotAllowed, errs: []string{"method not allowed"}}
	}
	q := r.URL.Query()
	msgs := gaValidate(q.Get("measurement_id"), body, now)
	if debug {
		res := jsonResult(http.StatusOK, map[string]any{"validationMessages": msgs})
		res.accepted = len(msgs) == 0
		for _, m := range msgs {
			res.errs = append(res.errs, m.ValidationCode+" "+m.FieldPath+": "+m.Description)
		}
		return res
	}
	res := result{status: http.StatusNoContent}
	if !s.validToken(Google, q.Get("api_secret")) {
		res.errs = append(res.errs, "api_secret missing or invalid (dropped silently)")
	}
	for _, m := range msgs {
		res.errs = append(res.errs, m.ValidationCode+" "+m.FieldPath+": "+m.Description)
	}
	res.accepted = len(res.errs) == 0
	return res
}

func gaValidate(measurementID string, body []byte, now time.Time) []gaMessage {
	msgs := []gaMessage{}
	add := func(path, code, format string, args ...any) {
		msgs = append(msgs, gaMessage{FieldPath: path, Description: fmt.Sprintf(format, args...), ValidationCode: code})
	}
	switch {
	case measurementID == "":
		add("measurement_id", "VALUE_REQUIRED", "Measurement ID is required.")
	case !gaMeasurementID.MatchString(measurementID):
		add("measurement_id", "VALUE_INVALID", "Measurement ID [%s] is not a valid web stream measurement ID.", measurementID)
	}
	if len(body) > gaMaxBody {
		add("", "VALUE_OUT_OF_BOUNDS", "Payload exceeds the maximum size of 130kB.")
		return msgs
	}
	m, ok := decodeObject(body)
	if !ok {
		add("", "VALUE_INVALID", "Unable to parse Measurement Protocol JSON payload.")
		return msgs
	}
	for _, k := range gaTop.unknown(m) {
		add(k, "VALUE_INVALID", "Unknown field [%s].", k)
	}
	if v, ok := m["client_id"]; !ok {
		add("client_id", "VALUE_REQUIRED", "Measurement requires a client_id.")
	} else if s, isStr := v.(string); !isStr || s == "" {
		add("client_id", "VALUE_INVALID", "client_id must be a non-empty string.")
	}
	if v, ok := m["user_id"]; ok {
		if _, isStr := v.(string); !isStr {
			add("user_id", "VALUE_INVALID", "user_id must be a string.")
		}
	}
	if v, ok := m["timestamp_micros"]; ok {
		gaTimestamp("timestamp_micros", v, now, add)
	}
	if v, ok := m["non_personalized_ads"]; ok {
		if _, isBool := v.(bool); !isBool {
			add("non_personalized_ads", "VALUE_INVALID", "non_personalized_ads must be a boolean.")
		}
	}
	if v, ok := m["validation_behavior"]; ok && v != "RELAXED" && v != "ENFORCE_RECOMMENDATIONS" {
		add("validation_behavior", "VALUE_INVALID", "validation_behavior must be RELAXED or ENFORCE_RECOMMENDATIONS.")
	}
	if v, ok := m["consent"]; ok {
		c, isObj := v.(map[string]any)
		if !isObj {
			add("consent", "VALUE_INVALID", "consent must be an object.")
		}
		for k, cv := range c {
			if k != "ad_user_data" && k != "ad_personalization" {
				add("consent."+k, "VALUE_INVALID", "Unknown consent field [%s].", k)
			} else if cv != "GRANTED" && cv != "DENIED" {
				add("consent."+k, "VALUE_INVALID", "Consent value must be GRANTED or DENIED.")
			}
		}
	}
	if v, ok := m["user_data"]; ok {
		gaUserData(v, add)
	}
	if v, ok := m["user_properties"]; ok {
		gaUserProps(v, add)
	}
	for _, k := range []string{"user_location", "device"} {
		if v, ok := m[k]; ok {
			if _, isObj := v.(map[string]any); !isObj {
				add(k, "VALUE_INVALID", "%s must be an object.", k)
			}
		}
	}
	if v, ok := m["ip_override"]; ok {
		if _, isStr := v.(string); !isStr {
			add("ip_override", "VALUE_INVALID", "ip_override must be a string.")
		}
	}
	raw, ok := m["events"]
	if !ok {
		add("events", "VALUE_REQUIRED", "Measurement requires at least one event.")
		return msgs
	}
	evs, isArr := raw.([]any)
	switch {
	case !isArr:
		add("events", "VALUE_INVALID", "events must be an array.")
		return msgs
	case len(evs) == 0:
		add("events", "VALUE_REQUIRED", "Measurement requires at least one event.")
	case len(evs) > gaMaxEvents:
		add("events", "EXCEEDED_MAX_ENTITIES", "Measurement contains %d events; the maximum is %d.", len(evs), gaMaxEvents)
	}
	for i, e := range evs {
		gaEvent(i, e, now, add)
	}
	return msgs
}

type gaAdd func(path, code, format string, args ...any)

func gaTimestamp(path string, v any, now time.Time, add gaAdd) {
	us, ok := asInt(v)
	if !ok {
		add(path, "VALUE_INVALID", "%s must be an integer of Unix microseconds.", path)
		return
	}
	t := time.UnixMicro(us)
	if now.Sub(t) > gaMaxAge || t.Sub(now) > gaMaxAhead {
		add(path, "VALUE_OUT_OF_BOUNDS", "%s must be within the last 72 hours (microseconds).", path)
	}
}

func gaReservedPrefix(n string) bool {
	return strings.HasPrefix(n, "google_") || strings.HasPrefix(n, "ga_") || strings.HasPrefix(n, "firebase_")
}

func gaEvent(i int, e any, now time.Time, add gaAdd) {
	ev, ok := e.(map[string]any)
	if !ok {
		add("events", "VALUE_INVALID", "Event at index: [%d] must be an object.", i)
		return
	}
	for k := range ev {
		if k != "name" && k != "params" && k != "timestamp_micros" {
			add("events", "VALUE_INVALID", "Event at index: [%d] has unknown field [%s].", i, k)
		}
	}
	name, isStr := ev["name"].(string)
	switch {
	case !isStr || name == "":
		add("events", "VALUE_REQUIRED", "Event at index: [%d] requires a name.", i)
	case !gaName.MatchString(name):
		add("events", "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Names must start with an alphabetic character.", i, name)
	case len(name) > gaNameLen:
		add("events", "NAME_INVALID", "Event at index: [%d] has invalid name [%s]. Names must be at most %d characters.", i, name, gaNameLen)
	case gaReservedEvents.has(name) || gaReservedPrefix(name):
		add("events", "NAME_RESERVED", "Event at index: [%d] has name [%s] which is reserved.", i, name)
	}
	if v, ok := ev["timestamp_micros"]; ok {
		gaTimestamp(fmt.Sprintf("events[%d].timestamp_micros", i), v, now, add)
	}
	raw, ok := ev["params"]
	if !ok {
		return
	}
	params, isObj := raw.(map[string]any)
	if !isObj {
		add(fmt.Sprintf("events[%d].params", i), "VALUE_INVALID", "params must be an object.")
		return
	}
	if len(params) > gaMaxParams {
		add(fmt.Sprintf("events[%d].params", i), "EXCEEDED_MAX_ENTITIES", "Event at index: [%d] has %d params; the maximum is %d.", i, len(params), gaMaxParams)
	}
	for k, v := range params {
		path := fmt.Sprintf("events[%d].params.%s", i, k)
		switch {
		case !gaName.MatchString(k) || len(k) > gaNameLen:
			add(path, "NAME_INVALID", "Param name [%s] is invalid.", k)
		case gaReservedPrefix(k):
			add(path, "NAME_RESERVED", "Param name [%s] uses a reserved prefix.", k)
		}
		switch t := v.(type) {
		case string:
			limit := gaValueLen
			if l, ok := gaParamLimits[k]; ok {
				limit = l
			}
			if len([]rune(t)) > limit {
				add(path, "VALUE_OUT_OF_BOUNDS", "Param [%s] value is longer than %d characters.", k, limit)
			}
		case map[string]any:
			add(path, "VALUE_INVALID", "Param [%s] must be a string, a number or a boolean.", k)
		case []any:
			if k != "items" {
				add(path, "VALUE_INVALID", "Only items may be an array.")
			}
		}
	}
	for _, k := range []string{"engagement_time_msec", "value"} {
		if v, ok := params[k]; ok {
			if _, isNum := asNumber(v); !isNum {
				add(fmt.Sprintf("events[%d].params.%s", i, k), "VALUE_INVALID", "%s must be a number.", k)
			}
		}
	}
	if v, ok := params["currency"]; ok && !isCurrency(v) {
		add(fmt.Sprintf("events[%d].params.currency", i), "VALUE_INVALID", "currency must be an ISO 4217 code.")
	}
}

func gaUserProps(v any, add gaAdd) {
	ups, ok := v.(map[string]any)
	if !ok {
		add("user_properties", "VALUE_INVALID", "user_properties must be an object.")
		return
	}
	if len(ups) > gaMaxUProps {
		add("user_properties", "EXCEEDED_MAX_ENTITIES", "%d user properties; the maximum is %d.", len(ups), gaMaxUProps)
	}
	for k, p := range ups {
		path := "user_properties." + k
		switch {
		case !gaName.MatchString(k) || len(k) > gaUPropLen:
			add(path, "NAME_INVALID", "User property name [%s] is invalid.", k)
		case gaReservedUserProps.has(k) || gaReservedPrefix(k):
			add(path, "NAME_RESERVED", "User property name [%s] is reserved.", k)
		}
		obj, isObj := p.(map[string]any)
		if !isObj {
			add(path, "VALUE_INVALID", "User property must be an object with a value.")
			continue
		}
		if s, isStr := obj["value"].(string); isStr && len([]rune(s)) > gaUPropValLen {
			add(path+".value", "VALUE_OUT_OF_BOUNDS", "User property value is longer than %d characters.", gaUPropValLen)
		}
	}
}

func gaUserData(v any, add gaAdd) {
	ud, ok := v.(map[string]any)
	if !ok {
		add("user_data", "VALUE_INVALID", "user_data must be an object.")
		return
	}
	for k, val := range ud {
		path := "user_data." + k
		switch k {
		case "sha256_email_address", "sha256_phone_number":
			if why := hashedValues(val, true); why != "" {
				add(path, "VALUE_INVALID", "%s", why)
			}
		case "address":
			arr, isArr := val.([]any)
			if !isArr {
				add(path, "VALUE_INVALID", "address must be an array.")
				continue
			}
			for j, a := range arr {
				am, isObj := a.(map[string]any)
				if !isObj {
					add(fmt.Sprintf("%s[%d]", path, j), "VALUE_INVALID", "address must be an object.")
					continue
				}
				for ak, av := range am {
					ap := fmt.Sprintf("%s[%d].%s", path, j, ak)
					switch ak {
					case "sha256_first_name", "sha256_last_name", "sha256_street":
						if why := hashedValues(av, false); why != "" {
							add(ap, "VALUE_INVALID", "%s", why)
						}
					case "city", "region", "postal_code", "country":
						if _, isStr := av.(string); !isStr {
							add(ap, "VALUE_INVALID", "must be a string.")
						}
					default:
						add(ap, "VALUE_INVALID", "Unknown field [%s].", ak)
					}
				}
			}
		default:
			add(path, "VALUE_INVALID", "Unknown field [%s].", k)
		}
	}
}
