package platformsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOAuthSignatureVector checks the signer against the worked example of
// X's "Creating a signature" documentation.
func TestOAuthSignatureVector(t *testing.T) {
	t.Parallel()
	q := url.Values{
		"include_entities": {"true"},
		// A form body parameter: signed exactly like a query parameter.
		"status": {"Hello Ladies + Gentlemen, a signed OAuth request!"},
	}
	oauth := map[string]string{
		"oauth_consumer_key":     "xvz1evFS4wEEPTGEFPHBog",
		"oauth_nonce":            "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        "1318622958",
		"oauth_token":            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		"oauth_version":          "1.0",
	}
	got := OAuthSignature("POST", "https://api.twitter.com/1.1/statuses/update.json", q, oauth,
		"kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
	require.Equal(t, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=", got)
	require.Equal(t, "Ladies%20%2B%20Gentlemen%21%2A", PercentEncode("Ladies + Gentlemen!*"))
}

var xCreds = XOAuth{ConsumerKey: "ck", ConsumerSecret: "cs", Token: "at", TokenSecret: "ats"}

var nonce atomic.Int64

// xSign builds an OAuth 1.0a Authorization header for rawURL.
func xSign(t *testing.T, rawURL string, c XOAuth, mutate func(p map[string]string)) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	p := map[string]string{
		"oauth_consumer_key":     c.ConsumerKey,
		"oauth_nonce":            "n" + strconv.FormatInt(nonce.Add(1), 10),
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now.Unix(), 10),
		"oauth_token":            c.Token,
		"oauth_version":          "1.0",
	}
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	p["oauth_signature"] = OAuthSignature("POST", base, u.Query(), p, c.ConsumerSecret, c.TokenSecret)
	if mutate != nil {
		mutate(p)
	}
	parts := make([]string, 0, len(p))
	for k, v := range p {
		parts = append(parts, fmt.Sprintf(`%s="%s"`, PercentEncode(k), PercentEncode(v)))
	}
	return "OAuth " + strings.Join(parts, ", ")
}

func validXConversion() map[string]any {
	return map[string]any{
		"conversion_time": "2026-11-29T11:59:00.603Z",
		"event_id":        "o87ne",
		"identifiers": []any{
			map[string]any{"twclid": "23opevjt88psuo13lu8d020qkn"},
			map[string]any{"hashed_email": sha("person@example.com")},
			map[string]any{"ip_address": "203.0.113.1", "user_agent": "Mozilla/5.0"},
		},
		"conversion_id":  "evt-1",
		"number_items":   2,
		"price_currency": "USD",
		"value":          100.0,
		"contents":       []any{map[string]any{"content_id": "SKU", "content_price": 50.0, "num_items": 1}},
	}
}

func xRequest(cs ...map[string]any) map[string]any {
	arr := make([]any, len(cs))
	for i, c := range cs {
		arr[i] = c
	}
	return map[string]any{"conversions": arr}
}

func TestXRejectList(t *testing.T) {
	t.Parallel()
	conv := func(f func(c map[string]any)) map[string]any {
		c := clone(validXConversion())
		f(c)
		return xRequest(validXConversion(), c)
	}
	many := func(n int) map[string]any {
		cs := make([]map[string]any, n)
		for i := range cs {
			cs[i] = validXConversion()
		}
		return xRequest(cs...)
	}
	type auth func(t *testing.T, u string) map[string]string
	oauth := func(c XOAuth, mutate func(map[string]string)) auth {
		return func(t *testing.T, u string) map[string]string {
			return map[string]string{"Authorization": xSign(t, u, c, mutate)}
		}
	}
	header := func(k, v string) auth {
		return func(*testing.T, string) map[string]string { return map[string]string{k: v} }
	}
	cases := []struct {
		name    string
		auth    auth // default: valid OAuth
		path    string
		body    any
		status  int
		message string
	}{
		{name: "valid oauth", body: xRequest(validXConversion()), status: 200},
		{name: "valid 500", body: many(500), status: 200},
		{name: "tw- event id", body: conv(func(c map[string]any) { c["event_id"] = "tw-o8z6j-o87ne" }), status: 200},
		{name: "pixel token header", auth: header("X-Pixel-Token", "ptok"), body: xRequest(validXConversion()), status: 200},
		{name: "bearer pixel token", auth: header("Authorization", "Bearer ptok"), body: xRequest(validXConversion()), status: 200},
		{name: "wrong pixel token", auth: header("X-Pixel-Token", "nope"), body: xRequest(validXConversion()), status: 401},
		{name: "no auth", auth: header("X-Nothing", "1"), body: xRequest(validXConversion()), status: 401},
		{name: "bad signature", auth: oauth(XOAuth{ConsumerKey: "ck", ConsumerSecret: "wrong", Token: "at", TokenSecret: "ats"}, nil), body: xRequest(validXConversion()), status: 401},
		{name: "wrong token secret", auth: oauth(XOAuth{ConsumerKey: "ck", ConsumerSecret: "cs", Token: "at", TokenSecret: "x"}, nil), body: xRequest(validXConversion()), status: 401},
		{name: "wrong consumer key", auth: oauth(XOAuth{ConsumerKey: "other", ConsumerSecret: "cs", Token: "at", TokenSecret: "ats"}, nil), body: xRequest(validXConversion()), status: 401},
		{name: "missing nonce", auth: oauth(xCreds, func(p map[string]string) { delete(p, "oauth_nonce") }), body: xRequest(validXConversion()), status: 401},
		{name: "missing token", auth: oauth(xCreds, func(p map[string]string) { delete(p, "oauth_token") }), body: xRequest(validXConversion()), status: 401},
		{name: "PLAINTEXT", auth: oauth(xCreds, func(p map[string]string) { p["oauth_signature_method"] = "PLAINTEXT" }), body: xRequest(validXConversion()), status: 401},
		{name: "tampered timestamp", auth: oauth(xCreds, func(p map[string]string) { p["oauth_timestamp"] = "1" }), body: xRequest(validXConversion()), status: 401},
		{name: "signed for another path", path: "/x/12/measurement/conversions/other", auth: func(t *testing.T, u string) map[string]string {
			return map[string]string{"Authorization": xSign(t, strings.Replace(u, "/other", "/o8z6j", 1), xCreds, nil)}
		}, body: xRequest(validXConversion()), status: 401},
		{name: "old version", path: "/x/11/measurement/conversions/o8z6j", body: xRequest(validXConversion()), status: 404},
		{name: "not json", body: "{", status: 400},
		{name: "unknown top key", body: map[string]any{"conversions": []any{validXConversion()}, "pixel": 1}, status: 400},
		{name: "no conversions", body: map[string]any{}, status: 400, message: "conversions"},
		{name: "501 conversions", body: many(501), status: 400, message: "Conversion count limit is 500"},
		{name: "no identifiers", body: conv(func(c map[string]any) { delete(c, "identifiers") }), status: 400, message: "At least one user identifier must be provided"},
		{name: "ip and ua alone", body: conv(func(c map[string]any) {
			c["identifiers"] = []any{map[string]any{"ip_address": "203.0.113.1", "user_agent": "UA"}}
		}), status: 400, message: "At least one user identifier must be provided"},
		{name: "raw email", body: conv(func(c map[string]any) {
			c["identifiers"] = []any{map[string]any{"hashed_email": "person@example.com"}}
		}), status: 400, message: "Hashed_email is not a valid SHA-256 hash"},
		{name: "raw phone", body: conv(func(c map[string]any) {
			c["identifiers"] = []any{map[string]any{"hashed_phone_number": "+16505551212"}}
		}), status: 400, message: "Hashed_phone_number is not a valid SHA-256 hash"},
		{name: "missing event_id", body: conv(func(c map[string]any) { delete(c, "event_id") }), status: 400, message: "event_id"},
		{name: "event name as event_id", body: conv(func(c map[string]any) { c["event_id"] = "Purchase" }), status: 400, message: "event_id"},
		{name: "unix conversion_time", body: conv(func(c map[string]any) { c["conversion_time"] = now.Unix() }), status: 400, message: "conversion_time"},
		{name: "no conversion_time", body: conv(func(c map[string]any) { delete(c, "conversion_time") }), status: 400, message: "conversion_time"},
		{name: "number_items zero", body: conv(func(c map[string]any) { c["number_items"] = 0 }), status: 400, message: "number_items"},
		{name: "value string", body: conv(func(c map[string]any) { c["value"] = "100" }), status: 400, message: "value"},
		{name: "unknown conversion key", body: conv(func(c map[string]any) { c["email"] = "x" }), status: 400},
	}
	s, base := newSim(t, Options{Tokens: map[string]string{X: "ptok"}, XOAuth: xCreds})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = "/x/12/measurement/conversions/o8z6j"
			}
			u := base + path
			a := tc.auth
			if a == nil {
				a = oauth(xCreds, nil)
			}
			h := a(t, u)
			h["Content-Type"] = "application/json"
			res := post(t, u, h, tc.body)
			require.Equal(t, tc.status, res.status, string(res.raw))
			switch tc.status {
			case 200:
				n := len(tc.body.(map[string]any)["conversions"].([]any))
				require.EqualValues(t, n, num(t, res.json, "data", "conversions_processed"))
				return
			case 401:
				errs := res.json["errors"].([]any)
				require.Equal(t, "UNAUTHORIZED_ACCESS", errs[0].(map[string]any)["code"])
				return
			case 400:
				errs := res.json["errors"].([]any)
				e := errs[0].(map[string]any)
				require.NotEmpty(t, e["code"])
				require.Contains(t, e["message"], tc.message)
			}
		})
	}
	t.Cleanup(func() { require.Equal(t, len(cases), len(s.Requests("twitter"))) })
}

func TestXNonceReplay(t *testing.T) {
	t.Parallel()
	_, base := newSim(t, Options{XOAuth: xCreds})
	u := base + "/x/12/measurement/conversions/o8z6j"
	h := map[string]string{"Authorization": xSign(t, u, xCreds, nil), "Content-Type": "application/json"}
	require.Equal(t, http.StatusOK, post(t, u, h, xRequest(validXConversion())).status)
	// A retry must be signed anew: the same nonce is refused.
	require.Equal(t, http.StatusUnauthorized, post(t, u, h, xRequest(validXConversion())).status)
}

func TestXUnverifiedOAuth(t *testing.T) {
	t.Parallel()
	// Without XOAuth secrets only the presence and form of the parameters
	// is checked.
	_, base := newSim(t, Options{})
	u := base + "/x/12/measurement/conversions/o8z6j"
	any := XOAuth{ConsumerKey: "k", ConsumerSecret: "s", Token: "t", TokenSecret: "ts"}
	h := map[string]string{"Authorization": xSign(t, u, any, nil), "Content-Type": "application/json"}
	require.Equal(t, http.StatusOK, post(t, u, h, xRequest(validXConversion())).status)
	h["Authorization"] = xSign(t, u, any, func(p map[string]string) { delete(p, "oauth_signature") })
	require.Equal(t, http.StatusUnauthorized, post(t, u, h, xRequest(validXConversion())).status)
}
