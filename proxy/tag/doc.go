// Package tag builds and serves the loader: the one small first-party
// script a tenant's pages load from the tenant's own host. The script's
// source is js/loader.js (plain JavaScript for evergreen browsers, no
// build step); Build puts a tenant's LoaderConfig into it as a JSON object,
// minifies it (tdewolff/minify), and precomputes its gzip and brotli bodies
// and strong ETags once. Asset.Serve answers a request from those bytes
// without allocating.
//
// # The page snippet
//
//	<script>window.pgw=window.pgw||function(){(pgw.q=pgw.q||[]).push(arguments)};</script>
//	<script async src="https://t.tenant.com/<loader path>"></script>
//
// Calls made before the script loads are queued by the stub and replayed.
//
//	pgw('track', name, props, user) // props.event_id: the page's own id (a UUID), else one is generated
//	pgw('consent', {analytics: true, marketing: false, functional: true})
//	pgw('consent', 'show')          // reopen the banner
//
// The loader fires page_view at start and, with LoaderConfig.SPA, on every
// history change (pushState, replaceState, popstate) that changes the path
// or query. Every event gets an event_id (crypto.randomUUID, with a
// getRandomValues fallback) unless the page passed props.event_id, so the
// tenant's server copy of a conversion can carry the same id.
//
// # Consent
//
// Before a decision nothing is sent and nothing is stored: events wait in
// memory (at most 200). The decision comes from the visitor (the banner or
// pgw('consent', …)) or from the jaraba_consent cookie of an earlier visit.
// A new decision is POSTed to the consent path:
//
//	POST <consent path>
//	Content-Type: text/plain;charset=UTF-8
//	(fetch with keepalive: true and credentials: 'include'; no URL data)
//
//	{"v":1,"analytics":true,"marketing":false,"functional":true,"policy":"2026-01"}
//
// All five keys are always present: "v" is the integer 1, the three
// categories are booleans, "policy" is LoaderConfig.PolicyVersion
// ([A-Za-z0-9._:-]{1,64}). The edge answers 204 (with the CORS headers of
// the collect endpoint: the exact Origin, Access-Control-Allow-Credentials)
// and sets the cookies. The loader retries on 429, 5xx and network errors
// with backoff; on any other answer it goes on. Only after that answer
// does it send the held events the decision allows and drop the rest:
// marketing sends every event (with user data and click ids) when the
// tenant has a pixel; analytics alone sends events without user data and
// click ids, and only when the tenant has a google (GA4) pixel; neither
// sends nothing.
//
// On later page loads the loader reads the decision from the jaraba_consent
// cookie (not HttpOnly) and shows no banner. It relies only on this shape:
//
//	1.<kid>.<flags>.<policy>.<unix>.<subject>.<sig>
//
// split on '.': the first field "1", at least 7 fields, the policy being
// every field between the third and the last three (so a policy may hold
// dots). flags is either digits, a bitmask (1 analytics, 2 marketing,
// 4 functional), or letters ('a', 'm', 'f' present when granted). A cookie
// of another shape, or of another policy version, counts as no decision:
// the banner shows again. The edge, not the loader, verifies the signature.
//
// # Beacons
//
// The body is collect's wire format v1 (proxy/collect/doc.go), POSTed as
// text/plain;charset=UTF-8 to the collect path with fetch(…, {keepalive:
// true, credentials: 'include'}); navigator.sendBeacon only when fetch is
// missing or throws, or, while the page is hidden (unloading), when fetch
// fails. Events tracked in the same tick share a beacon; a beacon carries
// at most 25 events and 32 KiB. On 429, 5xx or a network error the loader
// retries with exponential backoff and jitter (1 s to 60 s, honouring
// Retry-After when the edge exposes it with Access-Control-Expose-Headers)
// and keeps unsent events for the page's life (at most 500). A 400 or 413
// on a beacon of several events resends them one by one, so one bad event
// does not sink the others; a single refused event, and any other 4xx, is
// dropped.
//
// Click ids (fbclid as "fbc", gclid, gbraid, wbraid, ttclid, li_fat_id,
// twclid) are read once from the landing URL, _fbp/_fbc/_ttp from
// first-party cookies, and sent in the body's "ids" with marketing consent
// only; a value collect would refuse (bad characters, over 512 bytes, an
// _fbp or _fbc of the wrong shape) is left out rather than sinking the
// beacon. Props and user data are trimmed to what collect accepts the same
// way (key pattern, counts, 512-byte strings, no control characters, one
// level of nesting). The GA4 session id ("sid") is kept in sessionStorage
// (pgw_sid) after a decision, never before.
//
// # Banner
//
// js/loader.js marks the BANNER HOOK: showBanner/hideBanner, which the
// consent issue replaces with the full banner. The placeholder is a fixed
// bottom bar (no layout shift), role=dialog labelled by its title, with
// "accept all" and "reject all" buttons styled alike, the privacy link, and
// the tenant's colours and texts. Its language is the page's lang if the
// tenant configured it, else the browser's language, else the tenant's
// default (so a visitor reads the language of the page in front of them).
//
// # Paths
//
// The loader talks only to LoaderConfig.CollectPath and ConsentPath, on
// the origin it was loaded from (plus the same-origin prefix, found by
// stripping one of LoaderConfig.LoaderPaths from its own URL). Build
// refuses paths that carry a vendor fingerprint ad blockers match
// (Fingerprint).
package tag
