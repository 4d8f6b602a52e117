// Package tiktok is the TikTok Events API 2.0 adapter: it validates each
// event for a TikTok pixel, builds one request for a batch and classifies
// TikTok's answer (platforms.md §4). Batching, retries and backoff live in
// platforms/dispatch only.
//
// # Request
//
//	POST {base_url}/open_api/{version}/event/track/
//	Access-Token: <access_token>
//	{"event_source":"web","event_source_id":"<pixel code>","test_event_code":"…",
//	 "data":[{"event":"Purchase","event_time":<seconds>,"event_id":"…",
//	   "user":{"email":"<sha256>","phone":"<sha256 of E.164 with +>",
//	           "external_id":"<sha256>","first_name":"<sha256>","last_name":"<sha256>",
//	           "zip_code":"<sha256>","city":"madrid","state":"…","country":"es",
//	           "ip":"…","user_agent":"…","ttclid":"E.C.P.…","ttp":"…"},
//	   "page":{"url":"…","referrer":"…"},
//	   "properties":{"value":12.5,"currency":"EUR","content_type":"product",
//	     "contents":[{"content_id":"sku1","price":10,"quantity":1}],
//	     "order_id":"A-1001","query":"…"}}]}
//
// Names follow platforms.md §6 (StandardEvent): purchase is Purchase and
// lead is Lead (not the legacy CompletePayment/PlaceAnOrder/SubmitForm);
// page_view and custom events have no standard TikTok event and are sent
// only when the pixel's event_map names one. IP, user agent, ttclid and ttp
// are never hashed; city, state and country are normalised, not hashed.
//
// # Check
//
// Marketing consent and a mapped name (else platforms.ErrSkip); an event
// time no more than 7 days old (TikTok's window is UNCONFIRMED; the strict
// simulator uses 7 days, and one stale event would fail its whole request)
// nor 10 minutes ahead; a page URL (required for web events); a sane value
// and an ISO 4217 currency (else a *platforms.PermanentError).
//
// # Classification
//
// TikTok reports errors inside HTTP 200, so its code decides first:
//   - 0: accepted;
//   - 20001 (partial success; UNCONFIRMED): the events listed in
//     data.failed_events are that index's error in a *platforms.BatchError,
//     classified by their own code, the others accepted;
//   - 40100 (rate limit) and 5xxxx (TikTok-side errors): retryable;
//   - 40001 (no permission / bad token), 40104, 40105 (token missing,
//     invalid): permanent with Auth;
//   - 40002 (validation) and any other code: permanent.
//
// Without TikTok's envelope the HTTP status decides: a 2xx without a code
// (a proxy page) and 408, 429, 5xx, network errors and timeouts are
// retryable (Retry-After honoured); 401 and 403 permanent with Auth;
// redirects (never followed) and other statuses permanent.
package tiktok
