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
// Without a decision for the current policy version (no jaraba_consent
// cookie, or one of another version) the loader opens the banner; so does
// pgw('consent', 'show') at any time, with the current decision ticked.
//
//   - Where: a <div> appended to <body> holding an open shadow root, so the
//     page's CSS cannot restyle the banner and the banner's CSS cannot leak
//     into the page. Inside, the dialog (id pgw-banner) is position:fixed at
//     the bottom of the viewport, at most 640 px wide: nothing on the page
//     moves (no layout shift). There is no backdrop: the page stays
//     readable and clickable, and nothing is sent until a choice is made.
//   - What: the title, the body text with the privacy-policy link
//     (PrivacyURL, new tab), and the buttons "Accept all", "Reject all" —
//     the same element with the same class, side by side at the same
//     width: equally prominent — and "Customize", which reveals three
//     toggles (analytics, marketing, functional, each with a one-line
//     description; unticked on a first visit, none forced on) and
//     replaces itself with "Save choices". Accept all posts the three
//     categories true, reject all false, save the toggles as they are.
//   - Colours: the tenant's background, text, button and button_text
//     (CSS custom properties on the shadow host); the focus ring uses the
//     text colour.
//   - Accessibility: role="dialog", aria-modal="true", aria-labelledby the
//     title, aria-describedby the body; native buttons, checkboxes (inside
//     their labels) and link, so Enter and Space work. On open the focus
//     goes to the dialog itself (tabindex -1: no button is preselected).
//     While it is open, Tab and Shift+Tab wrap inside it (last → first,
//     first → last), and a Tab pressed while the focus is elsewhere (the
//     visitor clicked the page) brings it back in. Escape does nothing on
//     purpose: the banner closes only with a choice (a dismissal would be
//     neither a consent nor a refusal, and the banner would be back on the
//     next page). On close the focus goes back where it was.
//   - Motion: a short slide-in, only under prefers-reduced-motion:
//     no-preference (none at all when the visitor asks for reduced motion).
//   - Reopen: pgw('consent', 'show') (e.g. a "cookie settings" link in the
//     site's footer), and, with LoaderConfig.ReopenLink, a small floating
//     button in the bottom-left corner shown once the visitor has decided.
//
// Language: the first of the page's language (<html lang>), the browser's
// (navigator.language) and the tenant's default that is among the
// tenant's languages, compared on the primary subtag (pt-BR is pt). So a
// visitor reads the language of the page in front of him; the browser's
// language only counts when the page's is not one the tenant configured,
// and the default when neither is. Built-in texts exist for es, en and pt;
// LoaderConfig.Texts overrides any key of any language (LoaderConfig.Texts
// lists the keys).
//
// # Client-side pixels
//
// LoaderConfig.ClientSide lists the pixels whose platform's own browser
// tag the loader loads (issue 5 §6). Nothing happens before a decision or
// without marketing consent. With it, the first event that is sent sets up
// every tag — the vendor's queue stub (fbq, dataLayer, lintrk, ttq, twq)
// initialised with the pixel id, then one async script element per tag URL
// (TagURL) — and every event sent to the collect path is also given to each
// tag that maps it (ClientPixel.Events), with the beacon's event id, so the
// platform deduplicates the browser copy against the server copy. The
// tags' URLs are in the config of tenants that enable them only, never in
// the loader's code. A blocked tag changes nothing for the first-party path.
//
// # Paths
//
// The loader talks only to LoaderConfig.CollectPath and ConsentPath, on
// the origin it was loaded from (plus the same-origin prefix, found by
// stripping one of LoaderConfig.LoaderPaths from its own URL). Build
// refuses paths that carry a vendor fingerprint ad blockers match
// (Fingerprint).
package tag
