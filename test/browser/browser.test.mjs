// Browser test of the pixelgw edge, driven by test/browser_test.go (which
// starts the real binary over https and passes this script its settings as
// one JSON argument). Headless Debian Chromium through playwright-core,
// with the Ghostery ad-blocker engine loaded from EasyList + EasyPrivacy:
//
//   - the demo page on https://www.<site>:<port>/ loads the loader from
//     https://t.<site>:<port>/<loader path>;
//   - before the consent decision: no cookie (document.cookie and the
//     browser's cookie jar) and no consent or collect request, even though
//     the page already tracked an event;
//   - after "accept all" in the banner: jaraba_consent (readable) and
//     jaraba_visitor_id (HttpOnly) are set, and page_view, lead,
//     add_to_cart and purchase reach the collect path with 204; a reload
//     shows no banner (the decision comes from the cookie) and sends
//     page_view again;
//   - another visitor who rejects all gets only jaraba_consent and sends
//     no beacon;
//   - no first-party request is blocked (nor would the engine match it),
//     while real third-party tracker URLs on the same page are;
//   - client-side pixels (cfg.tagURLs): before the decision no third-party
//     URL but the page's own trackers is requested; after "accept all"
//     the loader requests each pixel's official tag (blocked by the engine
//     or not: both fine); the reject-all and the analytics-only (keyboard)
//     visitors never request any third-party URL;
//   - keyboard only (keyboardFlow): the banner takes the focus, Tab and
//     Shift+Tab stay inside it (focus trap), Escape does not dismiss it,
//     Enter opens the details, Space ticks analytics, Enter on "Save
//     choices" records exactly that choice and gives the focus back;
//   - the banner in ES, EN and PT (languageShots): built-in texts, the
//     dialog's lang, and one screenshot per language written to
//     cfg.artifactsDir (test/browser/artifacts, gitignored).
//
// Chromium resolves the test names to 127.0.0.1 and every other name to
// nothing (--host-resolver-rules), so nothing leaves the machine.
//
// On success it prints one JSON line (the summary the Go test checks) and
// exits 0; on failure it prints the reason on stderr and exits 1.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { chromium } from 'playwright-core';
import { PlaywrightBlocker, Request } from '@ghostery/adblocker-playwright';

const cfg = JSON.parse(process.argv[2] || '{}');
for (const k of ['port', 'site', 'loaderPath', 'collectPath', 'consentPath', 'adblockDir', 'tagURLs']) {
  if (!cfg[k]) {
    console.error(`browser test: missing setting ${k}`);
    process.exit(2);
  }
}
const timeoutMs = cfg.timeoutMs || 90_000;
const chromiumPath = cfg.chromium || '/usr/bin/chromium';
const site = cfg.site; // e.g. shop.test
const edgeHost = `t.${site}`;
const pageHost = `www.${site}`;
const origin = (h) => `https://${h}:${cfg.port}`;
const pageURL = origin(pageHost) + '/';

// Third-party tracker URLs the lists block; the page adds them itself.
const trackers = [
  { url: 'https://connect.facebook.net/en_US/fbevents.js', type: 'script' },
  { url: 'https://www.googletagmanager.com/gtag/js?id=G-X1234567', type: 'script' },
  { url: 'https://www.google-analytics.com/g/collect?v=2&tid=G-X1234567', type: 'ping' },
];

const deadline = Date.now() + timeoutMs;
const log = (...a) => {
  if (cfg.verbose) console.error('browser:', ...a);
};

// waitFor polls cond until it is truthy or the deadline passes.
async function waitFor(what, cond, ms = 30_000) {
  const until = Math.min(Date.now() + ms, deadline);
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isFirstParty(u) {
  const h = new URL(u).hostname;
  return h === site || h.endsWith('.' + site);
}
// thirdParty: the requests to anything but the tenant's own hosts.
function thirdParty(requests) {
  return requests.filter((r) => !isFirstParty(r.url)).map((r) => r.url);
}
function kindOf(u) {
  const x = new URL(u);
  if (x.hostname !== edgeHost) return x.hostname === pageHost && x.pathname === '/' ? 'page' : 'other';
  if (x.pathname === cfg.loaderPath) return 'loader';
  if (x.pathname === cfg.consentPath) return 'consent';
  if (x.pathname === cfg.collectPath) return 'collect';
  return 'other';
}

async function main() {
  // --- the ad blocker: the real engine, both lists, cosmetics included
  const lists = await Promise.all(
    ['easylist.txt', 'easyprivacy.txt'].map((f) => readFile(path.join(cfg.adblockDir, f), 'utf8')),
  );
  const blocker = PlaywrightBlocker.parse(lists.join('\n'), {
    loadNetworkFilters: true,
    loadCosmeticFilters: true,
  });
  const blocked = []; // {url, filter}
  const allowed = []; // urls the engine saw and let through
  blocker.on('request-allowed', (req) => allowed.push(req.url));
  const onBlocked = (req, res) => blocked.push({ url: req.url, filter: res && res.filter ? res.filter.toString() : '' });
  blocker.on('request-blocked', onBlocked);
  blocker.on('request-redirected', onBlocked);

  // Positive control: the engine, as loaded, blocks the trackers.
  for (const t of trackers) {
    const { match } = blocker.match(Request.fromRawDetails({ url: t.url, sourceUrl: pageURL, type: t.type }));
    assert.ok(match, `the engine must block the third-party tracker ${t.url}`);
  }
  blocked.length = 0;
  allowed.length = 0;

  const resolver = [
    `MAP ${site} 127.0.0.1`,
    `MAP *.${site} 127.0.0.1`,
    ...trackers.map((t) => `MAP ${new URL(t.url).hostname} 127.0.0.1`),
    'MAP * ~NOTFOUND',
  ].join(', ');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    timeout: 30_000,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      `--host-resolver-rules=${resolver}`,
      '--ignore-certificate-errors',
    ],
  });
  try {
    return await run(browser, blocker, blocked, allowed);
  } finally {
    await browser.close().catch(() => {});
  }
}

async function run(browser, blocker, blocked, allowed) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await blocker.enableBlockingInPage(page);

  const requests = []; // every request the page made
  const failed = []; // {url, error}
  const responses = []; // {url, kind, status, method}
  const consoleErrors = [];
  page.on('request', (r) => {
    requests.push({ url: r.url(), method: r.method(), type: r.resourceType(), body: r.postData() });
    log('request', r.method(), r.resourceType(), r.url());
  });
  page.on('requestfailed', (r) => {
    failed.push({ url: r.url(), error: (r.failure() || {}).errorText || '' });
    log('failed', r.url(), (r.failure() || {}).errorText);
  });
  page.on('response', (r) => {
    const req = r.request();
    responses.push({ url: r.url(), kind: kindOf(r.url()), status: r.status(), method: req.method(), body: req.postData() });
    log('response', r.status(), r.url());
  });
  page.on('console', (m) => {
    // The blocked trackers log ERR_BLOCKED_BY_CLIENT; anything else counts.
    // A client-side tag the engine lets through fails to resolve (nothing
    // leaves the machine): expected too.
    if (m.type() === 'error' && !m.text().includes('ERR_BLOCKED_BY_CLIENT') && !cfg.tagURLs.includes(m.location().url)) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const firstPartyPosts = () => requests.filter((r) => isFirstParty(r.url) && r.method === 'POST');
  const cookieJar = async () => context.cookies([origin(pageHost), origin(edgeHost)]);

  // --- page load: the loader comes from t.<site>, the banner shows
  const resp = await page.goto(pageURL, { waitUntil: 'load' });
  assert.equal(resp.status(), 200, 'the demo page');
  await waitFor('the loader', () => responses.find((r) => r.kind === 'loader'));
  const loader = responses.find((r) => r.kind === 'loader');
  assert.equal(loader.status, 200, 'the loader answers 200');
  const banner = page.locator('#pgw-banner');
  await banner.waitFor({ state: 'visible' });
  assert.equal(await banner.getAttribute('role'), 'dialog');
  // The tenant's colours (banner_colors), not the defaults.
  assert.equal(await banner.evaluate((e) => getComputedStyle(e).backgroundColor), cfg.bannerBackground, 'the tenant\'s banner background');

  // The page tracks before any decision: the loader must hold the event.
  await page.click('#lead');

  // Real third-party trackers on the same page (as tenants' pages have).
  await page.evaluate((ts) => {
    for (const t of ts) {
      if (t.type === 'script') {
        const s = document.createElement('script');
        s.async = true;
        s.src = t.url;
        document.head.appendChild(s);
      } else {
        navigator.sendBeacon(t.url, 'x');
      }
    }
  }, trackers);
  await waitFor('the trackers to be blocked', () =>
    trackers.every((t) => failed.some((f) => f.url === t.url)),
  );

  // --- before the decision: no cookie, no consent or collect request
  // (the loader has run: the banner is up and a track call was made).
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => document.cookie), '', 'document.cookie before the decision');
  assert.deepEqual(await cookieJar(), [], 'the cookie jar before the decision');
  assert.deepEqual(firstPartyPosts(), [], 'no consent or collect request before the decision');
  assert.deepEqual(
    thirdParty(requests).filter((u) => !trackers.some((t) => t.url === u)),
    [],
    'no third-party request of the loader before the decision',
  );
  assert.ok(
    !(await page.evaluate(() => sessionStorage.length || localStorage.length)),
    'nothing stored in web storage before the decision',
  );

  // --- accept all in the banner
  await banner.getByRole('button', { name: /^accept all$/i }).click();
  await waitFor('the consent answer', () => responses.find((r) => r.kind === 'consent'));
  const consentResp = responses.find((r) => r.kind === 'consent');
  assert.equal(consentResp.status, 204, 'the consent endpoint answers 204');
  await banner.waitFor({ state: 'detached' });

  const jar = await waitFor('the consent cookies', async () => {
    const c = await cookieJar();
    return c.some((x) => x.name === 'jaraba_visitor_id') && c;
  });
  const byName = Object.fromEntries(jar.map((c) => [c.name, c]));
  const cons = byName.jaraba_consent;
  const vis = byName.jaraba_visitor_id;
  assert.ok(cons, 'jaraba_consent is set');
  assert.ok(vis, 'jaraba_visitor_id is set');
  for (const c of [cons, vis]) {
    assert.equal(c.secure, true, `${c.name} is Secure`);
    assert.equal(c.sameSite, 'Lax', `${c.name} is SameSite=Lax`);
    assert.ok(c.domain === '.' + site || c.domain === site, `${c.name} is on the tenant's cookie domain, got ${c.domain}`);
  }
  assert.equal(cons.httpOnly, false, 'jaraba_consent is readable by the loader');
  assert.equal(vis.httpOnly, true, 'jaraba_visitor_id is HttpOnly');
  assert.match(vis.value, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the visitor id is a UUID');
  assert.ok(vis.expires * 1000 > Date.now() + 360 * 86400_000, 'the visitor id lives about 13 months');
  const docCookie = await page.evaluate(() => document.cookie);
  assert.match(docCookie, /(^|; )jaraba_consent=/, 'document.cookie shows jaraba_consent');
  assert.doesNotMatch(docCookie, /jaraba_visitor_id/, 'document.cookie never shows the visitor id');

  // --- the held events go out, then the demo buttons fire conversions
  const sentEvents = () => {
    const names = [];
    for (const r of responses) {
      if (r.kind !== 'collect' || r.status !== 204 || !r.body) continue;
      for (const e of JSON.parse(r.body).events || []) names.push(e.name);
    }
    return names;
  };
  await waitFor('page_view and the held lead', () => ['page_view', 'lead'].every((n) => sentEvents().includes(n)));
  await page.click('#cart');
  await waitFor('add_to_cart', () => sentEvents().includes('add_to_cart'));
  await page.click('#buy');
  await waitFor('purchase', () => sentEvents().includes('purchase'));

  // --- marketing consent: the client-side pixels' official tags are
  // requested (the engine may block them: either is fine), nothing else
  // third-party but the page's own trackers.
  await waitFor('the client-side tags', () => cfg.tagURLs.every((u) => requests.some((r) => r.url === u)));
  const tags = cfg.tagURLs.filter((u) => requests.some((r) => r.url === u && r.type === 'script'));
  assert.deepEqual(tags, cfg.tagURLs, 'each tag is requested as a script');
  assert.deepEqual(
    [...new Set(thirdParty(requests))].filter((u) => !trackers.some((t) => t.url === u) && !cfg.tagURLs.includes(u)),
    [],
    'no other third-party request',
  );

  // --- a later page load: the loader reads the decision from the cookie,
  // shows no banner and sends page_view at once.
  await page.reload({ waitUntil: 'load' });
  await waitFor('page_view after the reload', () => sentEvents().filter((n) => n === 'page_view').length === 2);
  assert.equal(await page.locator('#pgw-banner').count(), 0, 'no banner once decided');

  // --- reopen: pgw('consent', 'show') brings the banner back; a new
  // choice is recorded (a second "accept all").
  const consentAnswers = () => responses.filter((r) => r.kind === 'consent' && r.method === 'POST').length;
  await page.evaluate(() => window.pgw('consent', 'show'));
  await banner.waitFor({ state: 'visible' });
  await banner.getByRole('button', { name: /^accept all$/i }).click();
  await waitFor('the reopened choice', () => consentAnswers() === 2);
  await banner.waitFor({ state: 'detached' });

  // --- a policy-version bump: the old decision no longer counts, so the
  // banner shows again on the next page (once every edge reloaded the
  // tenant) and page_view waits for the new choice.
  const bump = await fetch(`${cfg.api}/api/v1/tenant`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${cfg.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ settings: { policy_version: '2' } }),
  });
  assert.equal(bump.status, 200, 'the policy bump');
  await waitFor('the banner after the policy bump', async () => {
    await page.reload({ waitUntil: 'load' });
    return (await page.locator('#pgw-banner').count()) > 0;
  });
  await banner.waitFor({ state: 'visible' });
  // Reloads before every edge had the new policy sent page_views of their
  // own; from this page on, nothing is collected until the new choice.
  const mark = requests.length;
  const viewsSince = () =>
    requests.slice(mark).filter((r) => kindOf(r.url) === 'collect' && r.body && JSON.parse(r.body).events.some((e) => e.name === 'page_view')).length;
  await page.waitForTimeout(300);
  assert.equal(viewsSince(), 0, 'page_view waits for the new decision');
  await banner.getByRole('button', { name: /^accept all$/i }).click();
  await waitFor('the decision under the new policy', () => consentAnswers() === 3);
  await waitFor('page_view under the new policy', () => viewsSince() === 1);
  const last = responses.filter((r) => r.kind === 'consent' && r.method === 'POST').pop();
  assert.equal(JSON.parse(last.body).policy, '2', 'the new decision names the new policy');

  // --- nothing first-party was blocked or failed; the engine agrees
  await page.waitForTimeout(200);
  const fp = requests.filter((r) => isFirstParty(r.url));
  const fpBlocked = blocked.filter((b) => isFirstParty(b.url));
  // The engine did see every first-party subresource (the page itself is a
  // main-frame navigation, which blockers never block) and let it through.
  for (const r of fp.filter((x) => kindOf(x.url) !== 'page')) {
    assert.ok(allowed.includes(r.url), `the engine never saw ${r.method} ${r.url}`);
  }
  assert.deepEqual(fpBlocked, [], 'no first-party request blocked by the engine');
  assert.deepEqual(failed.filter((f) => isFirstParty(f.url)), [], 'no first-party request failed');
  const engineTypes = { fetch: ['fetch', 'xhr', 'ping'], ping: ['ping'], script: ['script'], document: ['document'] };
  for (const r of fp) {
    for (const type of engineTypes[r.type] || [r.type]) {
      const { match, redirect } = blocker.match(Request.fromRawDetails({ url: r.url, sourceUrl: pageURL, type }));
      assert.ok(!match && !redirect, `the engine would block ${r.method} ${r.url} as ${type}`);
    }
  }
  for (const t of trackers) {
    assert.ok(blocked.some((b) => b.url === t.url), `the engine blocked ${t.url}`);
    const f = failed.find((x) => x.url === t.url);
    assert.match(f.error, /^net::ERR_BLOCKED_BY_CLIENT/, `${t.url} never reached the network`);
  }
  assert.ok(!responses.some((r) => !isFirstParty(r.url)), 'no third-party request got an answer');

  const collect = responses.filter((r) => r.kind === 'collect');
  assert.ok(collect.length > 0);
  for (const r of collect) assert.equal(r.status, 204, `collect answered ${r.status}`);
  const kinds = new Set(fp.map((r) => kindOf(r.url)));
  for (const k of ['page', 'loader', 'consent', 'collect']) assert.ok(kinds.has(k), `saw a ${k} request`);
  assert.deepEqual(consoleErrors, [], 'no error on the page console');

  if (cfg.screenshot) await writeFile(cfg.screenshot, await page.screenshot({ fullPage: true }));
  await context.close();
  const events = sentEvents();
  const rejected = await rejectAll(browser, blocker);
  assert.deepEqual(blocked.filter((b) => isFirstParty(b.url)), [], 'no first-party request blocked (reject all)');
  const keyboard = await keyboardFlow(browser, blocker);
  const languages = await languageShots(browser, blocker);
  return {
    ok: true,
    events,
    rejected,
    keyboard,
    languages,
    tags,
    collect_requests: collect.length,
    first_party_requests: fp.map((r) => `${r.method} ${kindOf(r.url)}`),
    blocked: blocked.map((b) => b.url),
    cookies: jar.map((c) => c.name).sort(),
  };
}

// rejectAll: a new visitor rejects everything. The decision gets a signed
// jaraba_consent cookie (under a random decision id) and nothing else: no
// visitor id, no marketing cookie, and no event ever leaves the page.
async function rejectAll(browser, blocker) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await blocker.enableBlockingInPage(page);
  const posts = []; // {kind, status}
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url() }));
  page.on('response', (r) => {
    if (r.request().method() === 'POST') posts.push({ kind: kindOf(r.url()), status: r.status() });
  });
  await page.goto(pageURL, { waitUntil: 'load' });
  const banner = page.locator('#pgw-banner');
  await banner.waitFor({ state: 'visible' });
  await page.click('#lead');
  await banner.getByRole('button', { name: /^reject all$/i }).click();
  await waitFor('the consent answer', () => posts.find((p) => p.kind === 'consent'));
  await banner.waitFor({ state: 'detached' });
  await page.click('#buy');
  await page.waitForTimeout(300);
  const jar = await context.cookies([origin(pageHost), origin(edgeHost)]);
  assert.deepEqual(jar.map((c) => c.name), ['jaraba_consent'], 'reject all: only the consent cookie');
  assert.deepEqual(posts, [{ kind: 'consent', status: 204 }], 'reject all: one consent POST and no beacon');
  assert.deepEqual(thirdParty(requests), [], 'reject all: no third-party request');
  await context.close();
  return { cookies: jar.map((c) => c.name), posts: posts.length };
}

// focusInfo describes what has the keyboard focus, looking into the
// banner's shadow root: inside says it is in the open dialog.
async function focusInfo(page) {
  return page.evaluate(() => {
    const host = document.activeElement;
    const root = host && host.shadowRoot;
    const e = root && root.activeElement;
    const box = root && root.getElementById('pgw-banner');
    if (!e) return { inside: false, label: host ? host.tagName.toLowerCase() : 'none' };
    const label =
      e.id === 'pgw-banner' ? 'dialog' : e.tagName === 'INPUT' ? `checkbox:${e.name}` : `${e.tagName.toLowerCase()}:${e.textContent.trim()}`;
    return { inside: !!box && box.contains(e), label, checked: e.checked };
  });
}

// keyboardFlow: a visitor who only uses the keyboard. The banner takes the
// focus and keeps it (Tab and Shift+Tab cycle inside it), Escape does not
// dismiss it, Enter opens the details, Space ticks analytics, Enter on
// "Save choices" records analytics only, and the focus goes back to the
// page.
async function keyboardFlow(browser, blocker) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await blocker.enableBlockingInPage(page);
  const consentBodies = [];
  const collected = [];
  page.on('response', (r) => {
    const req = r.request();
    if (req.method() !== 'POST') return;
    if (kindOf(r.url()) === 'consent') consentBodies.push({ status: r.status(), body: JSON.parse(req.postData()) });
    if (kindOf(r.url()) === 'collect' && r.status() === 204) {
      for (const e of JSON.parse(req.postData()).events || []) collected.push(e.name);
    }
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url() }));
  await page.goto(pageURL, { waitUntil: 'load' });
  const banner = page.locator('#pgw-banner');
  await banner.waitFor({ state: 'visible' });
  assert.equal(await banner.getAttribute('aria-modal'), 'true');
  assert.equal(await banner.getAttribute('aria-labelledby'), 'pgw-t');

  const tab = async (shift) => {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    const f = await focusInfo(page);
    assert.ok(f.inside, `focus left the open banner (now on ${f.label})`);
    return f.label;
  };
  let f = await focusInfo(page);
  assert.ok(f.inside, `the banner takes the focus when it opens (focus on ${f.label})`);

  // Escape does not dismiss the banner without a choice.
  await page.keyboard.press('Escape');
  assert.equal(await banner.count(), 1, 'Escape must not dismiss the banner');
  assert.ok((await focusInfo(page)).inside, 'Escape keeps the focus in the banner');

  // Tab cycles through the controls and wraps: the focus never leaves.
  const cycle = ['a:Privacy policy', 'button:Accept all', 'button:Reject all', 'button:Customize'];
  const forward = [];
  for (let i = 0; i < 2 * cycle.length + 1; i++) forward.push(await tab(false));
  assert.deepEqual(forward, [...cycle, ...cycle, cycle[0]], 'Tab order, wrapping at the end');
  assert.equal(await tab(true), cycle[cycle.length - 1], 'Shift+Tab on the first control wraps to the last');
  const backward = [];
  for (let i = 0; i < cycle.length; i++) backward.push(await tab(true));
  assert.deepEqual(backward, [cycle[2], cycle[1], cycle[0], cycle[3]], 'Shift+Tab order, wrapping at the start');

  // Enter on "Customize" opens the details with the focus on the first toggle.
  assert.equal((await focusInfo(page)).label, 'button:Customize');
  await page.keyboard.press('Enter');
  f = await focusInfo(page);
  assert.equal(f.label, 'checkbox:analytics', 'the details open on the first toggle');
  assert.equal(f.checked, false, 'nothing is pre-ticked');
  await page.keyboard.press('Space');
  assert.equal((await focusInfo(page)).checked, true, 'Space ticks analytics');
  await page.keyboard.press('Escape');
  assert.equal(await banner.count(), 1, 'Escape must not dismiss the details either');
  const details = [];
  for (let i = 0; i < 8; i++) details.push(await tab(false));
  assert.deepEqual(
    details,
    ['checkbox:marketing', 'checkbox:functional', 'button:Accept all', 'button:Reject all', 'button:Save choices',
      'a:Privacy policy', 'checkbox:analytics', 'checkbox:marketing'],
    'Tab order with the details open, wrapping at the end',
  );
  while ((await focusInfo(page)).label !== 'button:Save choices') await tab(false);
  assert.deepEqual(consentBodies, [], 'no decision before Enter');
  await page.keyboard.press('Enter');

  await waitFor('the keyboard consent answer', () => consentBodies.length > 0);
  await banner.waitFor({ state: 'detached' });
  assert.equal(consentBodies.length, 1, 'one decision');
  const { status, body } = consentBodies[0];
  assert.equal(status, 204);
  assert.deepEqual(
    { analytics: body.analytics, marketing: body.marketing, functional: body.functional },
    { analytics: true, marketing: false, functional: false },
    'the choice made with the keyboard is the one recorded',
  );
  f = await page.evaluate(() => ({ connected: !!document.activeElement && document.activeElement.isConnected, tag: document.activeElement && document.activeElement.tagName }));
  assert.ok(f.connected, 'the focus is back on the page, not on a removed node');
  const jar = (await context.cookies([origin(pageHost), origin(edgeHost)])).map((c) => c.name).sort();
  assert.deepEqual(jar, ['jaraba_consent', 'jaraba_visitor_id'], 'analytics only: no marketing cookie');
  await waitFor('page_view with analytics consent', () => collected.includes('page_view'));
  assert.deepEqual(thirdParty(requests), [], 'analytics only: no third-party request (no client-side tag)');
  assert.deepEqual(errors, [], 'no error on the page');
  await context.close();
  return { decision: 'analytics', events: collected, cookies: jar, tab_order: cycle };
}

// languageShots opens the banner in each built-in language (the page's
// lang picks it; pgw('consent','show') redraws it) and writes one
// screenshot per language to cfg.artifactsDir. No decision is made.
async function languageShots(browser, blocker) {
  const want = {
    es: { title: 'Tu privacidad', accept: 'Aceptar todo', reject: 'Rechazar todo' },
    en: { title: 'Your privacy', accept: 'Accept all', reject: 'Reject all' },
    pt: { title: 'A sua privacidade', accept: 'Aceitar tudo', reject: 'Rejeitar tudo' },
  };
  const shots = [];
  for (const [l, t] of Object.entries(want)) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 700 } });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    await blocker.enableBlockingInPage(page);
    await page.goto(pageURL, { waitUntil: 'load' });
    const banner = page.locator('#pgw-banner');
    await banner.waitFor({ state: 'visible' });
    await page.evaluate((lang) => {
      document.documentElement.lang = lang;
      window.pgw('consent', 'show');
    }, l);
    await waitFor(`the banner in ${l}`, async () => (await banner.getAttribute('lang')) === l);
    assert.equal((await banner.locator('h2').textContent()).trim(), t.title, `${l} title`);
    const buttons = await banner.getByRole('button').allTextContents();
    assert.ok(buttons.includes(t.accept) && buttons.includes(t.reject), `${l} buttons: ${buttons}`);
    // "Accept all" and "Reject all" equally prominent: same size and style.
    const box = async (name) => banner.getByRole('button', { name, exact: true }).boundingBox();
    const [acc, rej] = [await box(t.accept), await box(t.reject)];
    assert.ok(Math.abs(acc.height - rej.height) < 1, `${l}: accept and reject have the same height`);
    if (cfg.artifactsDir) {
      // animations: 'disabled' ends the slide-in, so the shot shows where
      // the banner rests.
      const file = path.join(cfg.artifactsDir, `banner-${l}.png`);
      await writeFile(file, await page.screenshot({ animations: 'disabled' }));
      shots.push(file);
    }
    const rest = await banner.boundingBox();
    assert.ok(rest.y >= 0 && rest.y + rest.height <= 700 + 0.5, `${l}: the banner fits in the viewport (${JSON.stringify(rest)})`);
    await context.close();
  }
  return { languages: Object.keys(want), screenshots: shots };
}

const timer = setTimeout(() => {
  console.error(`browser test: over its ${timeoutMs} ms budget`);
  process.exit(1);
}, timeoutMs + 5_000);
main().then(
  (summary) => {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(summary) + '\n');
  },
  (err) => {
    clearTimeout(timer);
    console.error('browser test FAILED:', err && err.stack ? err.stack : err);
    process.exitCode = 1;
  },
);
