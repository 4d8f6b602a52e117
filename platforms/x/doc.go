// Package x is the X (Twitter) Conversion API adapter: it validates each
// event for an X pixel, builds one request for a batch and classifies X's
// answer (platforms.md §5). Batching, retries and backoff live in
// platforms/dispatch only. Its platform name is "twitter", the store's.
//
// # Request
//
//	POST {base_url}/{version}/measurement/conversions/{pixel_id}
//	Authorization: OAuth oauth_consumer_key="…", …, oauth_signature="…"
//	{"conversions":[{"conversion_time":"2026-11-29T11:58:00.000Z",
//	  "event_id":"<event tag id>", "conversion_id":"<our event_id>",
//	  "identifiers":[{"twclid":"…"},{"hashed_email":"<sha256>"},
//	                 {"hashed_phone_number":"<sha256 of E.164 with +>"},
//	                 {"ip_address":"…","user_agent":"…"}],
//	  "value":12.5,"price_currency":"EUR","number_items":2,
//	  "contents":[{"content_id":"sku1","content_price":10,"num_items":1}]}]}
//
// Auth is OAuth 1.0a user context — HMAC-SHA1 over the method, URL and
// oauth_* parameters (RFC 5849; the JSON body is not signed), implemented
// here with the standard library — from the pixel's consumer_key,
// consumer_secret, access_token and access_token_secret; or the pixel's
// pixel_token, sent as both X-Pixel-Token and a Bearer token because the
// header X expects for it is UNCONFIRMED.
//
// event_id is not a dedup id on X: it is the pixel's event tag id for the
// internal event, from the pixel's event_map (unmapped: ErrSkip). Our
// event_id goes in conversion_id, which X uses to deduplicate the pixel and
// API copies.
//
// # What X limits (platforms.md §5.4)
//
//   - Access is gated: an X developer account, Ads API access approved by
//     an X representative (not self-serve), and OAuth 1.0a user tokens of a
//     user with AD_MANAGER or ACCOUNT_ADMIN on the ad account.
//   - No standard event names: every event must be created in Events
//     Manager first and referenced by its per-account tag id, so the
//     pixel's event_map is required; a name mapping cannot work.
//   - Few match keys: twclid, hashed email and hashed phone, with IP +
//     user agent only alongside one of them. No external_id, no name or
//     address, no browser-cookie id like Meta's _fbp. An event with none of
//     the three is refused by Check.
//   - Small batches (500 conversions per request) and a quota per ad
//     account (100,000 requests per 15 minutes on v12; older pages said
//     60,000).
//   - No documented test-event mode (a pixel's test_event_code is ignored)
//     and no per-event errors: one bad conversion fails its whole request
//     with 400, which is why Check validates each event first.
//   - Event age window and the "+" in hashed phones are UNCONFIRMED; phones
//     are hashed as E.164 with "+".
//
// # Classification
//
// 2xx accepted; 401, 403 permanent with Auth; 429 retryable (Retry-After,
// else x-rate-limit-reset); 408, 5xx, network errors and timeouts
// retryable; 400 and every other status (redirects included — never
// followed) permanent.
package x
