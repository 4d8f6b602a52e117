package platformsim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// TikTok Events API 2.0 (platforms.md §4).
//
// POST /open_api/v1.3/event/track/ (trailing slash). Every answer the API
// itself gives is HTTP 200 with {"code","message","request_id","data"}:
//   - code 0 "OK": accepted;
//   - code 40001: Access-Token header missing or wrong (no permission);
//   - code 40002: validation, with a marshmallow-style message
//     "Batch.<i>.<path>: <reason>" (or "<field>: <reason>" at the top):
//     body not a JSON object, unknown keys (top level, event, user, page),
//     event_source not web/app/offline/crm, event_source_id missing (or,
//     for web, not a pixel code [A-Z0-9]{15,30}), data missing/empty/over
//     1,000, event missing, event_time not an integer of seconds, more than
//     7 days old (UNCONFIRMED: platforms.md has no max age) or more than
//     10 minutes in the future, event_id not a string, user missing,
//     email/phone/external_id/first_name/last_name/zip_code not 64 lowercase
//     hex (string or array), page.url missing or not http(s) for web events,
//     properties of the wrong types (value number, currency ISO 4217,
//     contents[].content_id string, quantity integer, price number).
//
// Fault.PartialIndexes answers code 20001 "Partial success" with
// data.failed_events = [{"index":i,"code":40002,"message":…}] — code 20001
// is what rudder-transformer treats as partial success; the failed_events
// shape is the simulator's own (UNCONFIRMED).

var (
	ttTop   = keys("event_source", "event_source_id", "partner_name", "test_event_code", "data")
	ttEvent = keys("event", "event_time", "event_id", "limited_data_use", "user", "properties",
		"page", "app", "ad", "lead")
	ttUser = keys("email", "phone", "external_id", "ttclid", "ttp", "ip", "user_agent", "locale",
		"first_name", "last_name", "zip_code", "city", "state", "country", "idfa", "idfv", "gaid",
		"att_status", "lead_id")
	ttHashed    = keys("email", "phone", "external_id", "first_name", "last_name", "zip_code")
	ttArrays    = keys("email", "phone", "external_id")
	ttPage      = keys("url", "referrer")
	ttSources   = keys("web", "app", "offline", "crm")
	ttPixelCode = regexp.MustCompile(`^[A-Z0-9]{15,30}$`)
)

const (
	ttMaxEvents = 1000
	ttMaxAge    = 7 * 24 * time.Hour
	ttMaxAhead  = 10 * time.Minute
)

func tiktokError(code int, msg string) result {
	return jsonResult(http.StatusOK, map[string]any{"code": code, "message": msg, "request_id": traceID(), "data": map[string]any{}},
		fmt.Sprintf("code %d: %s", code, msg))
}

func (s *Sim) tiktok(r *http.Request, rest string, body []byte, now time.Time, partial []int) result {
	if rest != "/open_api/v1.3/event/track/" {
		return result{status: http.StatusNotFound, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("404 page not found"), errs: []string{"unknown path"}}
	}
	if r.Method != http.MethodPost {
		return result{status: http.StatusMethodNotAllowed, errs: []string{"method not allowed"}}
	}
	if !s.validToken(TikTok, r.Header.Get("Access-Token")) {
		return tiktokError(40001, "No permission to operate pixel code, or the access token is invalid")
	}
	root, ok := decodeObject(body)
	if !ok {
		return tiktokError(40002, "Request body must be a JSON object")
	}
	if u := ttTop.unknown(root); len(u) > 0 {
		return tiktokError(40002, u[0]+": Unknown field.")
	}
	src, _ := root["event_source"].(string)
	if !ttSources.has(src) {
		return tiktokError(40002, "event_source: Must be one of: web, app, offline, crm.")
	}
	sid, _ := root["event_source_id"].(string)
	if sid == "" {
		return tiktokError(40002, "event_source_id: Missing data for required field.")
	}
	if src == "web" && !ttPixelCode.MatchString(sid) {
		return tiktokError(40002, "event_source_id: Not a valid pixel code.")
	}
	for _, k := range []string{"partner_name", "test_event_code"} {
		if v, ok := root[k]; ok {
			if _, isStr := v.(string); !isStr {
				return tiktokError(40002, k+": Not a valid string.")
			}
		}
	}
	data, isArr := root["data"].([]any)
	switch {
	case !isArr:
		return tiktokError(40002, "data: Missing data for required field.")
	case len(data) == 0:
		return tiktokError(40002, "data: Shorter than minimum length 1.")
	case len(data) > ttMaxEvents:
		return tiktokError(40002, fmt.Sprintf("data: Longer than maximum length %d.", ttMaxEvents))
	}
	for i, e := range data {
		if why := tiktokEvent(e, src, now); why != "" {
			return tiktokError(40002, fmt.Sprintf("Batch.%d.%s", i, why))
		}
	}
	var failed []any
	var errs []string
	var rejected []int
	for _, i := range partial {
		if i >= 0 && i < len(data) && !slices.Contains(rejected, i) {
			rejected = append(rejected, i)
			msg := fmt.Sprintf("Batch.%d: injected rejection", i)
			failed = append(failed, map[string]any{"index": i, "code": 40002, "message": msg})
			errs = append(errs, msg)
		}
	}
	if len(failed) > 0 {
		res := jsonResult(http.StatusOK, map[string]any{"code": 20001, "message": "Partial success", "request_id": traceID(),
			"data": map[string]any{"failed_events": failed}}, errs...)
		res.accepted, res.rejected = true, rejected
		return res
	}
	res := jsonResult(http.StatusOK, map[string]any{"code": 0, "message": "OK", "request_id": traceID(), "data": map[string]any{}})
	res.accepted = true
	return res
}

// tiktokEvent returns "<path>: <reason>" for the first problem of an event.
func tiktokEvent(e any, src string, now time.Time) string {
	ev, ok := e.(map[string]any)
	if !ok {
		return "_schema: Invalid input type."
	}
	if u := ttEvent.unknown(ev); len(u) > 0 {
		return u[0] + ": Unknown field."
	}
	if name, _ := ev["event"].(string); name == "" {
		return "event: Missing data for required field."
	}
	ts, isInt := asInt(ev["event_time"])
	if !isInt {
		return "event_time: Not a valid integer (Unix seconds)."
	}
	t := time.Unix(ts, 0)
	if now.Sub(t) > ttMaxAge {
		return "event_time: Event time is more than 7 days in the past."
	}
	if t.Sub(now) > ttMaxAhead {
		return "event_time: Event time is in the future (unit must be seconds)."
	}
	if v, ok := ev["event_id"]; ok {
		if _, isStr := v.(string); !isStr {
			return "event_id: Not a valid string."
		}
	}
	if v, ok := ev["limited_data_use"]; ok {
		if _, isBool := v.(bool); !isBool {
			return "limited_data_use: Not a valid boolean."
		}
	}
	user, ok := ev["user"].(map[string]any)
	if !ok {
		return "user: Missing data for required field."
	}
	if u := ttUser.unknown(user); len(u) > 0 {
		return "user." + u[0] + ": Unknown field."
	}
	for k, v := range user {
		if ttHashed.has(k) {
			if why := hashedValues(v, ttArrays.has(k)); why != "" {
				return "user." + k + ": " + why + "."
			}
			continue
		}
		if _, isStr := v.(string); !isStr {
			return "user." + k + ": Not a valid string."
		}
	}
	if v, ok := ev["page"]; ok || src == "web" {
		page, isObj := v.(map[string]any)
		if !isObj {
			return "page: Missing data for required field."
		}
		if u := ttPage.unknown(page); len(u) > 0 {
			return "page." + u[0] + ": Unknown field."
		}
		if !isHTTPURL(page["url"]) {
			return "page.url: Missing or not a valid URL."
		}
		if v, ok := page["referrer"]; ok {
			if _, isStr := v.(string); !isStr {
				return "page.referrer: Not a valid string."
			}
		}
	}
	if v, ok := ev["properties"]; ok {
		props, isObj := v.(map[string]any)
		if !isObj {
			return "properties: Not a valid mapping type."
		}
		if why := tiktokProps(props); why != "" {
			return "properties." + why
		}
	}
	return ""
}

func tiktokProps(p map[string]any) string {
	if v, ok := p["value"]; ok {
		if _, isNum := asNumber(v); !isNum {
			return "value: Not a valid number."
		}
	}
	if v, ok := p["currency"]; ok && !isCurrency(v) {
		return "currency: Not a valid ISO 4217 code."
	}
	for _, k := range []string{"content_type", "order_id", "shop_id", "query", "description"} {
		if v, ok := p[k]; ok {
			if _, isStr := v.(string); !isStr {
				return k + ": Not a valid string."
			}
		}
	}
	if v, ok := p["contents"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return "contents: Not a valid list."
		}
		for j, c := range arr {
			cm, isObj := c.(map[string]any)
			if !isObj {
				return fmt.Sprintf("contents.%d: Not a valid mapping type.", j)
			}
			for k, cv := range cm {
				switch k {
				case "price":
					if _, isNum := asNumber(cv); !isNum {
						return fmt.Sprintf("contents.%d.price: Not a valid number.", j)
					}
				case "quantity":
					if _, isInt := asInt(cv); !isInt {
						return fmt.Sprintf("contents.%d.quantity: Not a valid integer.", j)
					}
				default:
					if _, isStr := cv.(string); !isStr {
						return fmt.Sprintf("contents.%d.%s: Not a valid string.", j, strings.TrimSpace(k))
					}
				}
			}
		}
	}
	return ""
}
