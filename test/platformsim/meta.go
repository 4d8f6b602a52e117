package platformsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Meta Conversions API (platforms.md §1, checklist §1.11).
//
// Rejects, always with HTTP 400 and the Graph error envelope
// {error:{message,type,code,error_subcode,error_user_title,error_user_msg,
// is_transient,fbtrace_id}}, the whole request when:
//   - the access token is missing (code 104) or wrong (code 190);
//     appsecret_proof missing or wrong when Options.MetaAppSecret is set
//     (code 100);
//   - the path is not /{vNN.0}/{digits}/events (code 2500) or the method is
//     not POST (code 100, subcode 33);
//   - the body is neither JSON nor a form with a JSON data field, data is
//     missing, empty, not an array or longer than 1,000 (code 100);
//   - any event is older than 7 days (62 for physical_store): code 100,
//     subcode 2804003, checked before anything else;
//   - any event is more than a minute in the future (code 100);
//   - unknown keys (top level, event, user_data), missing event_name,
//     event_time (not an integer of seconds), user_data or action_source,
//     an action_source outside the enum, a website event without an
//     http(s) event_source_url or user_data.client_user_agent, user_data
//     without any customer information parameter, a hashed field (em, ph,
//     fn, ln, ge, db, ct, st, zp, country, partial names/dob) that is not
//     64 lowercase hex, a bad client_ip_address, custom_data of the wrong
//     types, Purchase without custom_data.value (subcode 2804009) or
//     currency (code 100).
//
// Success: 200 {"events_received":N,"messages":[],"fbtrace_id":…}.

var (
	metaTop = keys("data", "test_event_code", "partner_agent", "namespace_id", "upload_id",
		"upload_tag", "upload_source", "access_token", "appsecret_proof")
	metaEvent = keys("event_name", "event_time", "user_data", "custom_data", "event_source_url",
		"action_source", "event_id", "opt_out", "referrer_url", "data_processing_options",
		"data_processing_options_country", "data_processing_options_state", "app_data",
		"messaging_channel", "original_event_data", "attribution_data", "advanced_measurement_table")
	metaHashed = keys("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country",
		"f5first", "f5last", "fi", "dobd", "dobm", "doby")
	metaPlainUser = keys("external_id", "client_ip_address", "client_user_agent", "fbc", "fbp",
		"subscription_id", "fb_login_id", "lead_id", "anon_id", "madid", "ctwa_clid", "page_id")
	metaActionSources = keys("email", "website", "app", "phone_call", "chat", "physical_store",
		"system_generated", "business_messaging", "other")
	metaPath = regexp.MustCompile(`^/(v[0-9]+\.0)/([0-9]{5,20})/events$`)
)

const (
	metaMaxEvents = 1000
	metaMaxAge    = 7 * 24 * time.Hour
	metaStoreAge  = 62 * 24 * time.Hour
	metaMaxAhead  = time.Minute
)

func metaError(status, code, subcode int, msg, title, userMsg string) result {
	e := map[string]any{
		"message":      msg,
		"type":         "OAuthException",
		"code":         code,
		"is_transient": code == 1 || code == 2 || code == 4 || code == 17,
		"fbtrace_id":   traceID(),
	}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if title != "" {
		e["error_user_title"] = title
	}
	if userMsg != "" {
		e["error_user_msg"] = userMsg
	}
	reason := fmt.Sprintf("code %d", code)
	if subcode != 0 {
		reason += fmt.Sprintf("/%d", subcode)
	}
	reason += ": " + msg
	if userMsg != "" {
		reason += ": " + userMsg
	}
	return jsonResult(status, map[string]any{"error": e}, reason)
}

func metaInvalid(userMsg string) result {
	return metaError(http.StatusBadRequest, 100, 0, "Invalid parameter", "", userMsg)
}

func (s *Sim) meta(r *http.Request, rest string, body []byte, now time.Time, _ []int) result {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var root map[string]any
	ok := false
	switch ct {
	case "application/json":
		root, ok = decodeObject(body)
	case "application/x-www-form-urlencoded":
		root, ok = metaBody(body, ct)
	case "multipart/form-data":
		root, ok = metaMultipart(body, params["boundary"])
	case "":
		if len(body) == 0 {
			root, ok = map[string]any{}, true
		}
	}
	// Auth comes first, as on the Graph API.
	token := r.URL.Query().Get("access_token")
	if token == "" && root != nil {
		token, _ = root["access_token"].(string)
	}
	if token == "" {
		return metaError(http.StatusBadRequest, 104, 0, "An access token is required to request this resource.", "", "")
	}
	if !s.validToken(Meta, token) {
		return metaError(http.StatusBadRequest, 190, 0, "Invalid OAuth access token - Cannot parse access token", "", "")
	}
	if s.opts.MetaAppSecret != "" {
		proof := r.URL.Query().Get("appsecret_proof")
		if proof == "" && root != nil {
			proof, _ = root["appsecret_proof"].(string)
		}
		mac := hmac.New(sha256.New, []byte(s.opts.MetaAppSecret))
		mac.Write([]byte(token))
		if !hmac.Equal([]byte(proof), []byte(hex.EncodeToString(mac.Sum(nil)))) {
			return metaError(http.StatusBadRequest, 100, 0, "Invalid appsecret_proof provided in the API argument", "", "")
		}
	}
	m := metaPath.FindStringSubmatch(rest)
	if m == nil {
		return metaError(http.StatusBadRequest, 2500, 0, "Unknown path components: "+rest, "", "")
	}
	if r.Method != http.MethodPost {
		return metaError(http.StatusBadRequest, 100, 33, fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", strings.ToLower(r.Method), m[2]), "", "")
	}
	if !ok {
		return metaInvalid("the body must be JSON or a form with a JSON data field")
	}
	if u := metaTop.unknown(root); len(u) > 0 {
		return metaInvalid(fmt.Sprintf("Unexpected key %q on param \"$\"", u[0]))
	}
	if v, ok := root["test_event_code"]; ok {
		if _, isStr := v.(string); !isStr {
			return metaInvalid("test_event_code must be a string")
		}
	}
	raw, present := root["data"]
	if !present {
		return metaInvalid("The parameter data is required")
	}
	data, isArr := raw.([]any)
	if !isArr {
		return metaInvalid("param data must be an array")
	}
	if len(data) == 0 {
		return metaInvalid("param data must be a non-empty array")
	}
	if len(data) > metaMaxEvents {
		return metaInvalid(fmt.Sprintf("param data must contain at most %d events, got %d", metaMaxEvents, len(data)))
	}
	// The time window first: one stale event fails the whole batch.
	for i, e := range data {
		ev, _ := e.(map[string]any)
		ts, isInt := asInt(ev["event_time"])
		if !isInt {
			continue
		}
		maxAge := metaMaxAge
		if ev["action_source"] == "physical_store" {
			maxAge = metaStoreAge
		}
		t := time.Unix(ts, 0)
		if now.Sub(t) > maxAge {
			return metaError(http.StatusBadRequest, 100, 2804003, "Invalid parameter", "Event Timestamp Too Old",
				fmt.Sprintf("The timestamp for this event is too far in the past. Events must be sent within 7 days of when they occurred (event %d).", i))
		}
		if t.Sub(now) > metaMaxAhead {
			return metaInvalid(fmt.Sprintf("param data[%d].event_time is in the future (unit must be seconds)", i))
		}
	}
	for i, e := range data {
		if res, bad := metaEventCheck(i, e); bad {
			return res
		}
	}
	return result{
		status:   http.StatusOK,
		header:   http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
		body:     mustJSON(map[string]any{"events_received": len(data), "messages": []any{}, "fbtrace_id": traceID()}),
		accepted: true,
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func metaEventCheck(i int, e any) (result, bool) {
	at := fmt.Sprintf("$['data'][%d]", i)
	ev, ok := e.(map[string]any)
	if !ok {
		return metaInvalid(at + " must be an object"), true
	}
	if u := metaEvent.unknown(ev); len(u) > 0 {
		return metaInvalid(fmt.Sprintf("Unexpected key %q on param %q", u[0], at)), true
	}
	name, _ := ev["event_name"].(string)
	if name == "" {
		return metaInvalid(at + ": event_name is required"), true
	}
	if _, ok := asInt(ev["event_time"]); !ok {
		return metaInvalid(at + ": event_time is required and must be an integer Unix time in seconds"), true
	}
	src, _ := ev["action_source"].(string)
	if src == "" {
		return metaInvalid(at + ": action_source is required"), true
	}
	if !metaActionSources.has(src) {
		return metaInvalid(fmt.Sprintf("%s: action_source %q is not one of email, website, app, phone_call, chat, physical_store, system_generated, business_messaging, other", at, src)), true
	}
	if v, ok := ev["event_id"]; ok {
		if _, isStr := v.(string); !isStr {
			return metaInvalid(at + ": event_id must be a string"), true
		}
	}
	if v, ok := ev["event_source_url"]; ok && !isHTTPURL(v) {
		return metaInvalid(at + ": event_source_url must be an http(s) URL"), true
	}
	if v, ok := ev["opt_out"]; ok {
		if _, isBool := v.(bool); !isBool {
			return metaInvalid(at + ": opt_out must be a boolean"), true
		}
	}
	if v, ok := ev["data_processing_options"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return metaInvalid(at + ": data_processing_options must be an array"), true
		}
		for _, o := range arr {
			if o != "LDU" {
				return metaInvalid(at + ": data_processing_options accepts only \"LDU\""), true
			}
		}
	}
	for _, k := range []string{"data_processing_options_country", "data_processing_options_state"} {
		if v, ok := ev[k]; ok {
			if _, isInt := asInt(v); !isInt {
				return metaInvalid(at + ": " + k + " must be an integer"), true
			}
		}
	}
	ud, ok := ev["user_data"].(map[string]any)
	if !ok {
		return metaInvalid(at + ": user_data is required and must be an object"), true
	}
	if src == "website" {
		if !isHTTPURL(ev["event_source_url"]) {
			return metaInvalid(at + ": event_source_url is required for website events"), true
		}
		if ua, _ := ud["client_user_agent"].(string); ua == "" {
			return metaInvalid(at + ": user_data.client_user_agent is required for website events"), true
		}
	}
	if res, bad := metaUserData(at, ud); bad {
		return res, true
	}
	if v, ok := ev["custom_data"]; ok {
		cd, isObj := v.(map[string]any)
		if !isObj {
			return metaInvalid(at + ": custom_data must be an object"), true
		}
		if res, bad := metaCustomData(at, cd); bad {
			return res, true
		}
	}
	if name == "Purchase" {
		cd, _ := ev["custom_data"].(map[string]any)
		if _, ok := asNumber(cd["value"]); !ok {
			return metaError(http.StatusBadRequest, 100, 2804009, "Invalid parameter", "Missing Value for Purchase Event",
				at+": Purchase events must include custom_data.value"), true
		}
		if !isCurrency(cd["currency"]) {
			return metaInvalid(at + ": Purchase events must include custom_data.currency (ISO 4217)"), true
		}
	}
	return result{}, false
}

func metaUserData(at string, ud map[string]any) (result, bool) {
	customerInfo := 0
	for k, v := range ud {
		switch {
		case metaHashed.has(k):
			if why := hashedValues(v, true); why != "" {
				return metaInvalid(fmt.Sprintf("%s: user_data.%s must be hashed with SHA-256: %s", at, k, why)), true
			}
			customerInfo++
		case metaPlainUser.has(k):
			if k == "external_id" {
				if why := stringOrStrings(v); why != "" {
					return metaInvalid(fmt.Sprintf("%s: user_data.%s %s", at, k, why)), true
				}
			} else if s, isStr := v.(string); !isStr || s == "" {
				return metaInvalid(fmt.Sprintf("%s: user_data.%s must be a non-empty string", at, k)), true
			}
			if k == "client_ip_address" && net.ParseIP(v.(string)) == nil {
				return metaInvalid(at + ": user_data.client_ip_address is not an IP address"), true
			}
			if k != "client_user_agent" {
				customerInfo++
			}
		default:
			return metaInvalid(fmt.Sprintf("Unexpected key %q on param \"%s['user_data']\"", k, at)), true
		}
	}
	if customerInfo == 0 {
		return metaInvalid(at + ": user_data must contain at least one customer information parameter"), true
	}
	return result{}, false
}

func stringOrStrings(v any) string {
	switch t := v.(type) {
	case string:
		if t == "" {
			return "must not be empty"
		}
		return ""
	case []any:
		for _, e := range t {
			if s, ok := e.(string); !ok || s == "" {
				return "must be a non-empty string or an array of them"
			}
		}
		if len(t) > 0 {
			return ""
		}
	}
	return "must be a non-empty string or an array of them"
}

func metaCustomData(at string, cd map[string]any) (result, bool) {
	for _, k := range []string{"value", "predicted_ltv", "net_revenue"} {
		if v, ok := cd[k]; ok {
			if _, isNum := asNumber(v); !isNum {
				return metaInvalid(fmt.Sprintf("%s: custom_data.%s must be a number", at, k)), true
			}
		}
	}
	if v, ok := cd["currency"]; ok && !isCurrency(v) {
		return metaInvalid(at + ": custom_data.currency must be an ISO 4217 code"), true
	}
	if v, ok := cd["num_items"]; ok {
		if _, isInt := asInt(v); !isInt {
			return metaInvalid(at + ": custom_data.num_items must be an integer"), true
		}
	}
	if v, ok := cd["content_ids"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return metaInvalid(at + ": custom_data.content_ids must be an array of strings"), true
		}
		for _, e := range arr {
			if _, isStr := e.(string); !isStr {
				return metaInvalid(at + ": custom_data.content_ids must be an array of strings"), true
			}
		}
	}
	if v, ok := cd["contents"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return metaInvalid(at + ": custom_data.contents must be an array"), true
		}
		for j, e := range arr {
			c, isObj := e.(map[string]any)
			if !isObj {
				return metaInvalid(fmt.Sprintf("%s: custom_data.contents[%d] must be an object", at, j)), true
			}
			if _, isStr := c["id"].(string); !isStr {
				return metaInvalid(fmt.Sprintf("%s: custom_data.contents[%d].id is required (string)", at, j)), true
			}
			if q, ok := c["quantity"]; ok {
				if _, isInt := asInt(q); !isInt {
					return metaInvalid(fmt.Sprintf("%s: custom_data.contents[%d].quantity must be an integer", at, j)), true
				}
			}
			if p, ok := c["item_price"]; ok {
				if _, isNum := asNumber(p); !isNum {
					return metaInvalid(fmt.Sprintf("%s: custom_data.contents[%d].item_price must be a number", at, j)), true
				}
			}
		}
	}
	if v, ok := cd["content_type"]; ok && v != "product" && v != "product_group" {
		return metaInvalid(at + ": custom_data.content_type must be product or product_group"), true
	}
	if v, ok := cd["delivery_category"]; ok && v != "in_store" && v != "curbside" && v != "home_delivery" {
		return metaInvalid(at + ": custom_data.delivery_category must be in_store, curbside or home_delivery"), true
	}
	return result{}, false
}

// metaMultipart reads a multipart form (curl -F data='[...]').
func metaMultipart(body []byte, boundary string) (map[string]any, bool) {
	if boundary == "" {
		return nil, false
	}
	mr := multipart.NewReader(strings.NewReader(string(body)), boundary)
	form := []string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, false
		}
		form = append(form, url.QueryEscape(p.FormName())+"="+url.QueryEscape(string(v)))
	}
	return metaBody([]byte(strings.Join(form, "&")), "application/x-www-form-urlencoded")
}
