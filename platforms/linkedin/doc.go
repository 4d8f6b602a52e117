// Package linkedin is the LinkedIn Conversions API adapter: it validates
// each event for a LinkedIn pixel, builds one BATCH_CREATE request for a
// batch and classifies LinkedIn's answer (platforms.md §3). Batching,
// retries and backoff live in platforms/dispatch only.
//
// # Request
//
//	POST {base_url}/rest/conversionEvents
//	Authorization: Bearer <access_token>
//	LinkedIn-Version: <version, YYYYMM>
//	X-Restli-Protocol-Version: 2.0.0
//	X-RestLi-Method: BATCH_CREATE
//	{"elements":[{"conversion":"urn:lla:llaPartnerConversion:N",
//	  "conversionHappenedAt":<ms>, "eventId":"…",
//	  "conversionValue":{"currencyCode":"EUR","amount":"12.5"},
//	  "user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"<sha256>"},
//	                     {"idType":"LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID","idValue":"<li_fat_id>"}],
//	          "userInfo":{"firstName":"…","lastName":"…","countryCode":"ES"}}}]}
//
// Every request uses BATCH_CREATE, one event included, so every answer has
// the same shape (200 with one status per element). LinkedIn sends no event
// name: each internal event maps to the pixel's conversion rule URN in its
// event_map; an unmapped event is skipped (platforms.ErrSkip).
//
// # Check
//
// An event is sent only with marketing consent (else ErrSkip), when the
// pixel maps it to a conversion rule URN (else ErrSkip), when it is at most
// 90 days old and no more than 5 minutes ahead, and when it carries at least one user id — a hashed email or
// li_fat_id (else a *platforms.PermanentError for that event alone).
// userInfo is sent only when both first and last name are known in plain
// text (LinkedIn answers 422 for one without the other).
//
// # Classification
//
//   - 200 with per-element statuses: 201 accepted; any other status is that
//     index's error in a *platforms.BatchError (429/5xx retryable, others
//     permanent).
//   - 201 / other 2xx: accepted.
//   - 401, 403: *platforms.PermanentError with Auth (the pixel turns red).
//   - 426: permanent — the configured LinkedIn-Version is retired; raise
//     platforms.linkedin.version.
//   - 422: schema errors naming indices ("Index: 3, ERROR :: …"): those
//     indices are permanent and the others retryable (LinkedIn rejected the
//     whole request), as a *platforms.BatchError; without indices the whole
//     request is permanent.
//   - 408, 429, 5xx, network errors, timeouts, an unreadable 200:
//     *platforms.RetryableError (Retry-After honoured).
//   - anything else (400, 404, a redirect — the client never follows one):
//     permanent.
package linkedin
