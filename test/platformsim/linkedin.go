package platformsim

import (
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LinkedIn Conversions API (platforms.md §3).
//
// POST /rest/conversionEvents. Single create: the body is one element,
// answered 201 with an empty body. Batch: X-RestLi-Method: BATCH_CREATE and
// {"elements":[…]} (≤ 5,000), answered 200 {"elements":[{"status":201},…]}.
//
// Rejects, with LinkedIn's {status, serviceErrorCode?, code?, message}:
//   - 401 EMPTY_ACCESS_TOKEN (65604) without "Authorization: Bearer …",
//     401 INVALID_ACCESS_TOKEN (65600) with a wrong token;
//   - 400 VERSION_MISSING without LinkedIn-Version, 400 when it is not
//     YYYYMM; 426 NONEXISTENT_VERSION when the version is not active: not
//     yet released, or sunset (a version lives one year and fifteen days
//     from the first of its month: 202511 sunsets 2026-11-16);
//   - 400 without X-Restli-Protocol-Version: 2.0.0, with an X-RestLi-Method
//     other than BATCH_CREATE, a body that is not JSON, a batch body without
//     elements, or more than 5,000 elements;
//   - 422 with one "Index: i, ERROR :: /path :: reason" line per bad element
//     (the whole request fails; rudder-transformer's observation): unknown
//     fields, conversion not urn:lla:llaPartnerConversion:<digits>,
//     conversionHappenedAt not an integer of ms or older than 90 days or in
//     the future, conversionValue.amount not a decimal string or a currency
//     that is not 3 upper-case letters, eventId over 64 chars, no
//     user.userIds, an unknown idType, SHA256_EMAIL not 64 lowercase hex,
//     userInfo without firstName and lastName (firstName ≤ 35 chars).
//
// Fault.PartialIndexes answers a valid batch 200 with those elements
// {"status":422,"error":{"status":422,"message":…}} (Rest.li CreateIdStatus
// shape) and the others 201.

var (
	liElement   = keys("conversion", "conversionHappenedAt", "conversionValue", "eventId", "user")
	liUser      = keys("userIds", "userInfo", "externalIds")
	liUserInfo  = keys("firstName", "lastName", "title", "companyName", "countryCode")
	liIDTypes   = keys("SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID", "PLAINTEXT_IP_ADDRESS", "SHA256_IP_ADDRESS", "GOOGLE_AID")
	liURN       = regexp.MustCompile(`^urn:lla:llaPartnerConversion:[0-9]+$`)
	liVersion   = regexp.MustCompile(`^([0-9]{4})(0[1-9]|1[0-2])$`)
	liAmount    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	liCurrency  = regexp.MustCompile(`^[A-Z]{3}$`)
	liCountryRE = regexp.MustCompile(`^[A-Za-z]{2}$`)
)

const (
	liMaxBatch   = 5000
	liMaxAge     = 90 * 24 * time.Hour
	liMaxAhead   = 5 * time.Minute
	liMaxEventID = 64
	liMaxFirst   = 35
)

func linkedinError(status, serviceCode int, code, msg string) result {
	body := map[string]any{"status": status, "message": msg}
	if serviceCode != 0 {
		body["serviceErrorCode"] = serviceCode
	}
	if code != "" {
		body["code"] = code
	}
	return jsonResult(status, body, fmt.Sprintf("%d %s: %s", status, code, msg))
}

// linkedinVersionActive reports whether YYYYMM is live at now.
func linkedinVersionActive(y, m int, now time.Time) bool {
	release := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
	sunset := release.AddDate(1, 0, 15)
	return !now.Before(release) && now.Before(sunset)
}

func (s *Sim) linkedin(r *http.Request, rest string, body []byte, now time.Time, partial []int) result {
	if rest != "/rest/conversionEvents" {
		return linkedinError(http.StatusNotFound, 0, "NOT_FOUND", "No virtual resource found")
	}
	if r.Method != http.MethodPost {
		return linkedinError(http.StatusMethodNotAllowed, 0, "METHOD_NOT_ALLOWED", "Method not allowed")
	}
	auth := r.Header.Get("Authorization")
	token, isBearer := strings.CutPrefix(auth, "Bearer ")
	if !isBearer || token == "" {
		return linkedinError(http.StatusUnauthorized, 65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token")
	}
	if !s.validToken(LinkedIn, token) {
		return linkedinError(http.StatusUnauthorized, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
	}
	version := r.Header.Get("LinkedIn-Version")
	if version == "" {
		return linkedinError(http.StatusBadRequest, 0, "VERSION_MISSING", "A version must be present. Please specify a version by adding the LinkedIn-Version header.")
	}
	vm := liVersion.FindStringSubmatch(version)
	if vm == nil {
		return linkedinError(http.StatusBadRequest, 0, "INVALID_VERSION", "Invalid version format "+strconv.Quote(version)+": expected YYYYMM")
	}
	y, _ := strconv.Atoi(vm[1])
	mo, _ := strconv.Atoi(vm[2])
	if !linkedinVersionActive(y, mo, now) {
		return linkedinError(http.StatusUpgradeRequired, 0, "NONEXISTENT_VERSION", "Requested version "+version+" is not active")
	}
	if r.Header.Get("X-Restli-Protocol-Version") != "2.0.0" {
		return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required")
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return linkedinError(http.StatusUnsupportedMediaType, 0, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	}
	method := r.Header.Get("X-RestLi-Method")
	if method != "" && !strings.EqualFold(method, "BATCH_CREATE") && !strings.EqualFold(method, "CREATE") {
		return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Unsupported X-RestLi-Method "+method)
	}
	root, ok := decodeObject(body)
	if !ok {
		return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Request body is not a JSON object")
	}
	batch := strings.EqualFold(method, "BATCH_CREATE")
	var elements []any
	if batch {
		if u := keys("elements").unknown(root); len(u) > 0 {
			return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Unknown field "+u[0]+" in a BATCH_CREATE body")
		}
		arr, isArr := root["elements"].([]any)
		if !isArr || len(arr) == 0 {
			return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "A BATCH_CREATE body needs a non-empty elements array")
		}
		if len(arr) > liMaxBatch {
			return linkedinError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", fmt.Sprintf("Batch size %d exceeds the maximum of %d", len(arr), liMaxBatch))
		}
		elements = arr
	} else {
		elements = []any{root}
	}
	var lines []string
	for i, e := range elements {
		for _, why := range linkedinElement(e, now) {
			prefix := ""
			if batch {
				prefix = fmt.Sprintf("Index: %d, ", i)
			}
			lines = append(lines, prefix+"ERROR :: "+why)
		}
	}
	if len(lines) > 0 {
		return linkedinError(http.StatusUnprocessableEntity, 0, "", strings.Join(lines, "\n"))
	}
	if !batch {
		return result{status: http.StatusCreated, accepted: true}
	}
	rejected := map[int]bool{}
	for _, i := range partial {
		if i >= 0 && i < len(elements) {
			rejected[i] = true
		}
	}
	statuses := make([]any, len(elements))
	var errs []string
	for i := range elements {
		if rejected[i] {
			msg := fmt.Sprintf("Index: %d, ERROR :: /conversion :: injected rejection", i)
			statuses[i] = map[string]any{"status": 422, "error": map[string]any{"status": 422, "message": msg}}
			errs = append(errs, msg)
			continue
		}
		statuses[i] = map[string]any{"status": 201}
	}
	res := jsonResult(http.StatusOK, map[string]any{"elements": statuses}, errs...)
	res.accepted = true
	for i := range elements {
		if rejected[i] {
			res.rejected = append(res.rejected, i)
		}
	}
	return res
}

// linkedinElement returns "/path :: reason" for each problem of one element.
func linkedinElement(e any, now time.Time) []string {
	el, ok := e.(map[string]any)
	if !ok {
		return []string{"/ :: element must be an object"}
	}
	var out []string
	bad := func(path, format string, args ...any) {
		out = append(out, path+" :: "+fmt.Sprintf(format, args...))
	}
	for _, k := range liElement.unknown(el) {
		bad("/"+k, "unrecognized field found but the schema does not allow it")
	}
	if v, ok := el["conversion"]; !ok {
		bad("/conversion", "field is required but not found and has no default value")
	} else if s, _ := v.(string); !liURN.MatchString(s) {
		bad("/conversion", "must be a urn:lla:llaPartnerConversion URN")
	}
	if v, ok := el["conversionHappenedAt"]; !ok {
		bad("/conversionHappenedAt", "field is required but not found and has no default value")
	} else if ms, isInt := asInt(v); !isInt {
		bad("/conversionHappenedAt", "must be a long (epoch milliseconds)")
	} else {
		t := time.UnixMilli(ms)
		if now.Sub(t) > liMaxAge {
			bad("/conversionHappenedAt", "conversion happened more than 90 days ago (unit is milliseconds)")
		}
		if t.Sub(now) > liMaxAhead {
			bad("/conversionHappenedAt", "conversion happened in the future")
		}
	}
	if v, ok := el["conversionValue"]; ok {
		cv, isObj := v.(map[string]any)
		if !isObj {
			bad("/conversionValue", "must be a record")
		} else {
			for _, k := range keys("currencyCode", "amount").unknown(cv) {
				bad("/conversionValue/"+k, "unrecognized field found but the schema does not allow it")
			}
			switch a := cv["amount"].(type) {
			case nil:
				bad("/conversionValue/amount", "field is required but not found and has no default value")
			case string:
				if !liAmount.MatchString(a) {
					bad("/conversionValue/amount", "%q is not a decimal amount", a)
				}
			default:
				bad("/conversionValue/amount", "must be a string")
			}
			if c, _ := cv["currencyCode"].(string); !liCurrency.MatchString(c) {
				bad("/conversionValue/currencyCode", "must be an ISO 4217 code")
			}
		}
	}
	if v, ok := el["eventId"]; ok {
		if s, isStr := v.(string); !isStr || s == "" || len(s) > liMaxEventID {
			bad("/eventId", "must be a string of 1 to %d characters", liMaxEventID)
		}
	}
	user, ok := el["user"].(map[string]any)
	if !ok {
		bad("/user", "field is required but not found and has no default value")
		return out
	}
	for _, k := range liUser.unknown(user) {
		bad("/user/"+k, "unrecognized field found but the schema does not allow it")
	}
	ids, _ := user["userIds"].([]any)
	if len(ids) == 0 {
		bad("/user/userIds", "at least one user id is required")
	}
	for j, idv := range ids {
		id, isObj := idv.(map[string]any)
		path := fmt.Sprintf("/user/userIds/%d", j)
		if !isObj {
			bad(path, "must be a record")
			continue
		}
		for _, k := range keys("idType", "idValue").unknown(id) {
			bad(path+"/"+k, "unrecognized field found but the schema does not allow it")
		}
		typ, _ := id["idType"].(string)
		val, isStr := id["idValue"].(string)
		if !liIDTypes.has(typ) {
			bad(path+"/idType", "%q is not an enum symbol of the id type", typ)
		}
		switch {
		case !isStr || val == "":
			bad(path+"/idValue", "field is required but not found and has no default value")
		case typ == "SHA256_EMAIL" && !isHash(val):
			bad(path+"/idValue", "SHA256_EMAIL must be a SHA-256 hash %s", describe(val))
		case typ == "SHA256_IP_ADDRESS" && !isHash(val):
			bad(path+"/idValue", "SHA256_IP_ADDRESS must be a SHA-256 hash")
		}
	}
	if v, ok := user["externalIds"]; ok {
		if arr, isArr := v.([]any); !isArr || len(arr) != 1 {
			bad("/user/externalIds", "exactly one external id is accepted")
		}
	}
	if v, ok := user["userInfo"]; ok {
		info, isObj := v.(map[string]any)
		if !isObj {
			bad("/user/userInfo", "must be a record")
			return out
		}
		for _, k := range liUserInfo.unknown(info) {
			bad("/user/userInfo/"+k, "unrecognized field found but the schema does not allow it")
		}
		for _, k := range []string{"firstName", "lastName"} {
			if s, _ := info[k].(string); s == "" {
				bad("/user/userInfo/"+k, "field is required but not found and has no default value")
			}
		}
		if s, _ := info["firstName"].(string); len([]rune(s)) > liMaxFirst {
			bad("/user/userInfo/firstName", "longer than %d characters", liMaxFirst)
		}
		if v, ok := info["countryCode"]; ok {
			if s, _ := v.(string); !liCountryRE.MatchString(s) {
				bad("/user/userInfo/countryCode", "must be an ISO 3166-1 alpha-2 code")
			}
		}
	}
	return out
}
