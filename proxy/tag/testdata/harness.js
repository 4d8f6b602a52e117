// Runs a built loader in a tiny fake browser (node's vm module, stubbed
// fetch/sendBeacon/storage/DOM) and checks one scenario's behaviour.
// Usage: node harness.js <loader.js> <scenario>
// Prints one JSON line {"calls": [...]} (every fetch and sendBeacon) on
// success; any failed assertion exits non-zero with the reason.
'use strict';
const fs = require('fs');
const vm = require('vm');
const assert = require('assert/strict');

const [, , file, scenario] = process.argv;
const source = fs.readFileSync(file, 'utf8');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PAGE_ID = '0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11';
const SCRIPT = 'https://t.shop.example/s/k4f9q2.js';
const COLLECT = 'https://t.shop.example/k4/q7mz';
const CONSENT = 'https://t.shop.example/k4/c8xw';

function tick(ms = 30) {
  return new Promise((r) => setTimeout(r, ms));
}

// until waits (polling, at most 10 s) for n calls or for a predicate, then
// a little longer so that an unexpected extra call would show up too.
async function until(b, want) {
  const ok = typeof want === 'function' ? want : () => b.calls.length >= want;
  for (const end = Date.now() + 10000; !ok() && Date.now() < end; ) await tick(5);
  await tick(30);
}

// A minimal DOM: enough for the banner (shadow roots, focus, hidden,
// keyboard events).
class Node {
  constructor(tag, doc) {
    this.tagName = tag.toUpperCase();
    this.doc = doc;
    this.children = [];
    this.style = {};
    this.attrs = {};
    this.textContent = '';
    this.className = '';
    this.hidden = false;
    this.parent = null;
    this.shadowRoot = null;
  }
  appendChild(c) {
    c.parent = this;
    this.children.push(c);
    return c;
  }
  setAttribute(k, v) {
    this.attrs[k] = String(v);
  }
  getAttribute(k) {
    return k in this.attrs ? this.attrs[k] : null;
  }
  remove() {
    if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this);
    this.parent = null;
  }
  attachShadow(init) {
    assert.equal(init.mode, 'open');
    const r = new Node('#shadow-root', this.doc);
    r.host = this;
    r.isShadowRoot = true;
    Object.defineProperty(r, 'activeElement', {
      get: () => {
        const f = this.doc.focused;
        return f && f.rootNode() === r ? f : null;
      },
    });
    return (this.shadowRoot = r);
  }
  rootNode() {
    let n = this;
    while (n.parent) n = n.parent;
    return n;
  }
  // connected: attached to the document (through shadow hosts too).
  connected() {
    const r = this.rootNode();
    return r === this.doc.body || (r.isShadowRoot && r.host.connected());
  }
  // shown: connected and neither it nor an ancestor is hidden.
  shown() {
    for (let n = this; n; n = n.parent || n.host) if (n.hidden) return false;
    return this.connected();
  }
  focus() {
    if (this.connected()) this.doc.focused = this;
  }
  text() {
    return this.textContent + this.children.map((c) => c.text()).join('');
  }
  all() {
    return [this, ...this.children.flatMap((c) => c.all()), ...(this.shadowRoot ? this.shadowRoot.all() : [])];
  }
}

function browser(opts) {
  const calls = [];
  const stored = [];
  const listeners = {};
  const doc = { focused: null };
  const body = new Node('body', doc);
  doc.body = body;
  const head = new Node('head', doc);
  const pageButton = body.appendChild(new Node('button', doc)); // the page's own control
  pageButton.id = 'page-button';
  const href = opts.href || 'https://www.shop.example/landing?utm_source=x';
  const location = new URL(href);
  let cookies = opts.cookie || '';
  const statusCalls = [];
  const document = {
    referrer: opts.referrer || 'https://search.example/',
    currentScript: { src: opts.script || SCRIPT },
    getElementsByTagName: () => [],
    documentElement: { lang: opts.lang || '' },
    head,
    body,
    visibilityState: 'visible',
    createElement: (t) => new Node(t, doc),
    getElementById: (id) => body.children.flatMap((c) => c.all()).find((n) => n.id === id) || null,
    addEventListener: (ev, f, capture) => (listeners[ev] = listeners[ev] || []).push(f),
    removeEventListener: (ev, f) => (listeners[ev] = (listeners[ev] || []).filter((g) => g !== f)),
  };
  // activeElement is the shadow host when the focus is inside its root.
  Object.defineProperty(document, 'activeElement', {
    get: () => {
      let f = doc.focused && doc.focused.connected() ? doc.focused : body;
      while (f.rootNode().isShadowRoot) f = f.rootNode().host;
      return f;
    },
  });
  Object.defineProperty(document, 'cookie', {
    get: () => cookies,
    set: (v) => {
      stored.push(['cookie', v]);
      cookies += '; ' + v;
    },
  });
  const storage = {
    getItem: () => null,
    setItem: (k, v) => stored.push(['sessionStorage', k, v]),
  };
  const win = {
    location,
    document,
    navigator: {
      language: opts.navLang || 'en-US',
      sendBeacon: (url, data) => {
        calls.push({ kind: 'beacon', url, body: String(data) });
        return true;
      },
    },
    history: {
      pushState: (s, t, u) => {
        const n = new URL(u, location.href);
        location.href = n.href;
      },
      replaceState: () => {},
    },
    crypto: globalThis.crypto,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    Promise,
    JSON,
    Math,
    Date,
    // backoff delays are real but shortened, so retries take milliseconds
    setTimeout: (f, ms, ...a) => setTimeout(f, Math.min(ms, 5), ...a),
    clearTimeout,
    addEventListener: (ev, f) => (listeners[ev] = listeners[ev] || []).push(f),
  };
  Object.defineProperty(win, 'sessionStorage', { get: () => storage });
  Object.defineProperty(win, 'localStorage', {
    get: () => {
      stored.push(['localStorage']);
      return storage;
    },
  });
  const answers = opts.answers || {};
  if (!opts.noFetch) {
    win.fetch = (url, init) => {
      if (!init || !init.method) {
        // The consent-status GET (no current cookie): the edge restores
        // the cookie when opts.restore holds one; recorded apart.
        statusCalls.push({ url, init: { ...init } });
        if (opts.restore) cookies = (cookies ? cookies + '; ' : '') + opts.restore;
        return Promise.resolve({ status: opts.restore ? 200 : 204, ok: true, headers: { get: () => null } });
      }
      calls.push({ kind: 'fetch', url, init: { ...init }, body: init.body });
      const list = answers[url];
      const status = (list && list.length ? list.shift() : 204);
      if (status === 'network') return Promise.reject(new TypeError('Failed to fetch'));
      return Promise.resolve({ status, ok: status < 300, headers: { get: () => null } });
    };
  }
  win.window = win;
  win.pgw = function () {
    (win.pgw.q = win.pgw.q || []).push(arguments);
  };
  vm.createContext(win);
  return {
    win,
    calls,
    stored,
    head,
    body,
    // scripts: the src of every script element the loader added
    scripts: () => head.all().concat(body.all()).filter((n) => n.tagName === 'SCRIPT').map((n) => n.src),
    doc,
    pageButton,
    listeners,
    statusCalls,
    // load runs the loader and lets its start (the consent-status answer)
    // settle, as a page would before the visitor acts.
    load: async () => {
      vm.runInContext(source, win, { filename: 'loader.js' });
      await new Promise((r) => setTimeout(r, 1));
    },
    banner: () => body.all().find((n) => n.id === 'pgw-banner'),
    // press sends a keydown to the document's listeners; unless one
    // prevents it, Tab moves the focus like a browser (tree order over
    // the shown focusable elements, shadow roots included).
    press(key, shiftKey) {
      const e = { key, shiftKey: !!shiftKey, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
      for (const f of listeners.keydown || []) f(e);
      if (e.defaultPrevented || key !== 'Tab') return e;
      const order = body.all().filter((n) => n.shown() && (['BUTTON', 'INPUT'].includes(n.tagName) || (n.tagName === 'A' && n.href)));
      const i = order.indexOf(doc.focused);
      doc.focused = order[shiftKey ? (i < 0 ? order.length - 1 : i - 1) : i + 1] || null;
      return e;
    },
  };
}

function events(call) {
  return JSON.parse(call.body).events;
}

function checkTransport(call) {
  assert.equal(call.init.method, 'POST');
  assert.equal(call.init.keepalive, true);
  assert.equal(call.init.credentials, 'include');
  assert.equal(call.init.headers['Content-Type'], 'text/plain;charset=UTF-8');
  assert.ok(!call.url.includes('?') && !call.url.includes('#'), 'no query in ' + call.url);
}

function shownButtons(b) {
  return b.banner().all().filter((n) => n.tagName === 'BUTTON' && n.shown());
}

// click presses the shown banner button whose text is text.
function click(b, text) {
  const k = shownButtons(b).find((n) => n.textContent === text);
  assert.ok(k, 'no button ' + text + ' in ' + shownButtons(b).map((n) => n.textContent));
  k.onclick();
}

const scenarios = {
  // The main flow: nothing before consent, then one consent POST and one
  // collect POST with the held page_view and purchase.
  async consent(b) {
    b.win.location.href = 'https://www.shop.example/landing?fbclid=AbC123xyz&gclid=Cj0KCQ_BwE-1&utm_source=x';
    b.win.pgw('track', 'lead', { form: 'newsletter' }); // queued by the stub before load
    await b.load();
    await tick();
    assert.equal(b.calls.length, 0, 'nothing sent before the decision');
    assert.deepEqual(b.stored, [], 'nothing stored before the decision');
    const banner = b.banner();
    assert.ok(banner, 'banner shown');
    assert.equal(banner.attrs.role, 'dialog');
    assert.equal(banner.attrs['aria-modal'], 'true');
    const title = banner.all().find((n) => n.id === banner.attrs['aria-labelledby']);
    assert.equal(title.textContent, 'Tu privacidad', 'labelled by its title');
    assert.deepEqual(shownButtons(b).map((x) => x.textContent), ['Aceptar todo', 'Rechazar todo', 'Personalizar']);
    const [acc, rej, cus] = shownButtons(b);
    assert.equal(acc.className, rej.className, 'accept and reject look alike');
    assert.equal(acc.tagName, rej.tagName);
    assert.notEqual(cus.className, acc.className);
    assert.equal(banner.all().find((n) => n.tagName === 'A').href, 'https://www.shop.example/privacidad');
    b.win.pgw('track', 'purchase', { value: 12.5, currency: 'EUR', event_id: PAGE_ID, contents: [{ id: 'sku1', quantity: 1 }], bad_obj: { x: 1 }, 'bad key': 1 }, { em: 'jane@example.com', nope: 'x' });
    await tick();
    assert.equal(b.calls.length, 0, 'still nothing sent');
    b.win.pgw('consent', { analytics: true, marketing: true, functional: false });
    await until(b, 2);
    assert.equal(b.calls.length, 2, 'one consent POST then one collect POST: ' + JSON.stringify(b.calls));
    const [c, e] = b.calls;
    assert.equal(c.url, CONSENT);
    assert.equal(c.body, '{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"2026-01"}');
    checkTransport(c);
    assert.equal(e.url, COLLECT);
    checkTransport(e);
    const beacon = JSON.parse(e.body);
    assert.equal(beacon.v, 1);
    assert.deepEqual(beacon.events.map((x) => x.name), ['page_view', 'lead', 'purchase']);
    for (const ev of beacon.events) assert.match(ev.id, UUID);
    assert.equal(beacon.events[2].id, PAGE_ID, "the page's own event_id is kept");
    assert.equal(beacon.events[2].props.event_id, undefined);
    assert.equal(beacon.events[2].props.bad_obj, undefined);
    assert.equal(beacon.events[2].user.em, 'jane@example.com');
    assert.equal(beacon.events[2].user.nope, undefined);
    assert.equal(beacon.ids.gclid, 'Cj0KCQ_BwE-1');
    assert.match(beacon.ids.fbc, /^fb\.1\.\d{13}\.AbC123xyz$/);
    assert.equal(beacon.ids.fbp, 'fb.1.1732880000000.1116446470');
    assert.deepEqual(beacon.consent, { analytics: true, marketing: true, functional: false, policy: '2026-01' });
    for (const x of b.calls) assert.ok(!x.url.includes('AbC123xyz') && !x.url.includes('Cj0KCQ'), 'click ids never in a URL');
    assert.equal(b.banner(), undefined, 'banner gone');
    assert.deepEqual(b.stored.filter((s) => s[0] !== 'sessionStorage'), [], 'the loader sets no cookie itself');
  },

  // Reject all: the decision is posted, every held event is dropped.
  async reject(b) {
    await b.load();
    b.win.pgw('track', 'purchase', { value: 1 });
    await tick();
    b.win.pgw('consent', { analytics: false, marketing: false, functional: false });
    await until(b, 1);
    b.win.pgw('track', 'lead');
    await tick(60);
    assert.equal(b.calls.length, 1);
    assert.equal(b.calls[0].url, CONSENT);
    assert.deepEqual(b.stored, []);
  },

  // Analytics only: the GA4 path, without user data or click ids.
  async analytics(b) {
    b.win.location.href = 'https://www.shop.example/?gclid=abc';
    await b.load();
    b.win.pgw('track', 'purchase', { value: 1 }, { em: 'a@b.c' });
    b.win.pgw('consent', { analytics: true });
    await until(b, 2);
    assert.equal(b.calls.length, 2);
    const beacon = JSON.parse(b.calls[1].body);
    assert.equal(beacon.ids, undefined);
    assert.deepEqual(beacon.events[1].user, {});
    assert.equal(beacon.consent.marketing, false);
  },

  // A decision in the consent cookie: no banner, no consent POST, events go.
  // No consent cookie, but the edge knows the visitor (a capped cookie):
  // it restores the cookie, the banner stays hidden, held events go.
  async restored(b) {
    await b.load();
    assert.equal(b.statusCalls.length, 1, 'one consent-status request');
    assert.equal(b.statusCalls[0].url, CONSENT);
    assert.equal(b.statusCalls[0].init.credentials, 'include');
    await until(b, 1);
    assert.equal(b.banner(), undefined, 'no banner after a restore');
    assert.equal(b.calls[0].url, COLLECT);
    assert.deepEqual(events(b.calls[0]).map((x) => x.name), ['page_view']);
  },

  // With a current cookie the loader never asks.
  async nostatus(b) {
    await b.load();
    assert.equal(b.statusCalls.length, 0);
  },

  async cookie(b) {
    await b.load();
    await until(b, 1);
    assert.equal(b.banner(), undefined);
    assert.equal(b.calls.length, 1);
    assert.equal(b.calls[0].url, COLLECT);
    assert.deepEqual(events(b.calls[0]).map((x) => x.name), ['page_view']);
    b.win.pgw('consent', 'show');
    assert.ok(b.banner(), 'reopened');
    assert.equal(b.body.all().find((n) => n.className === 'r'), undefined, 'no reopen link by default');
    click(b, 'Aceptar todo');
    await until(b, 2);
    assert.equal(b.calls.length, 2);
    assert.equal(b.calls[1].url, CONSENT);
    assert.equal(b.calls[1].body, '{"v":1,"analytics":true,"marketing":true,"functional":true,"policy":"2026-01"}');
  },

  // A cookie of an older policy counts as no decision.
  async oldpolicy(b) {
    await b.load();
    await tick(60);
    assert.ok(b.banner());
    assert.equal(b.calls.length, 0);
  },

  // 503 and a network error are retried with the same events; the consent
  // POST is retried too.
  async retry(b) {
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 5);
    const urls = b.calls.map((c) => c.url);
    assert.deepEqual(urls, [CONSENT, CONSENT, COLLECT, COLLECT, COLLECT]);
    const ids = b.calls.slice(2).map((c) => events(c)[0].id);
    assert.equal(new Set(ids).size, 1, 'same event every time');
  },

  // A 400 on a beacon of several events resends them one by one.
  async solo(b) {
    await b.load();
    b.win.pgw('track', 'lead');
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 4);
    const sizes = b.calls.filter((c) => c.url === COLLECT).map((c) => events(c).length);
    assert.deepEqual(sizes, [2, 1, 1]);
  },

  // Many events in one tick: split at 25 events and 32 KiB per beacon.
  async split(b) {
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 2);
    for (let i = 0; i < 40; i++) b.win.pgw('track', 'view_content', { i });
    for (let i = 0; i < 10; i++) b.win.pgw('track', 'custom:big', { a: 'x'.repeat(500), b: 'y'.repeat(500), c: 'z'.repeat(500), d: 'w'.repeat(500), e: 'v'.repeat(500), f: 'u'.repeat(500), g: 't'.repeat(500) });
    await until(b, () => b.calls.filter((c) => c.url === COLLECT).reduce((n, c) => n + events(c).length, 0) >= 51);
    const beacons = b.calls.filter((c) => c.url === COLLECT);
    let n = 0;
    for (const c of beacons) {
      const k = events(c).length;
      assert.ok(k <= 25, 'at most 25 events');
      assert.ok(Buffer.byteLength(c.body) <= 32768, 'at most 32 KiB');
      n += k;
    }
    assert.equal(n, 51);
    assert.ok(beacons.length >= 3);
  },

  // SPA: a pushState fires a page_view whose ref is the previous URL.
  async spa(b) {
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 2);
    b.win.history.pushState({}, '', '/product/42');
    b.win.history.pushState({}, '', '/product/42#reviews'); // same page
    await until(b, 3);
    const last = events(b.calls[b.calls.length - 1]);
    assert.equal(last.length, 1);
    assert.equal(last[0].name, 'page_view');
    assert.equal(last[0].url, 'https://www.shop.example/product/42');
    assert.equal(last[0].ref, 'https://www.shop.example/landing?utm_source=x');
  },

  // Without fetch, sendBeacon carries the body.
  async nofetch(b) {
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 2);
    assert.deepEqual(b.calls.map((c) => c.kind + ' ' + c.url), ['beacon ' + CONSENT, 'beacon ' + COLLECT]);
  },

  // Same-origin mode: the prefix before the loader path is kept.
  async prefix(b) {
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 2);
    assert.deepEqual(b.calls.map((c) => c.url), ['https://www.shop.example/m/k4/c8xw', 'https://www.shop.example/m/k4/q7mz']);
  },

  // Malformed cookies and click ids are left out rather than sinking the
  // beacon; good ones go in the body.
  async ids(b) {
    b.win.location.href = 'https://www.shop.example/?gclid=a%20b&ttclid=E.C.P.x_1&twclid=' + 'x'.repeat(600);
    await b.load();
    b.win.pgw('consent', { analytics: true, marketing: true });
    await until(b, 2);
    const beacon = JSON.parse(b.calls[1].body);
    assert.deepEqual(beacon.ids, { ttp: 'abc_DEF-1', ttclid: 'E.C.P.x_1' });
  },

  // Languages: page lang first, then the browser's, then the default.
  async lang(b) {
    await b.load();
    assert.equal(b.banner().lang, 'pt');
    assert.equal(b.banner().all().find((n) => n.tagName === 'H2').textContent, 'A sua privacidade');
    assert.deepEqual(shownButtons(b).map((x) => x.textContent), ['Aceitar tudo', 'Rejeitar tudo', 'Personalizar']);
  },
  async langnav(b) {
    await b.load();
    assert.equal(b.banner().lang, 'en');
    assert.equal(b.banner().all().find((n) => n.tagName === 'H2').textContent, 'Your privacy');
  },
  // Neither the page's nor the browser's language is the tenant's: the
  // default (es), with the tenant's override of one key.
  async langdefault(b) {
    await b.load();
    assert.equal(b.banner().lang, 'es');
    assert.equal(b.banner().all().find((n) => n.id === 'pgw-d').text(), 'Usamos cookies propias para medir y, si lo permites, para publicidad personalizada. Política de privacidad');
    assert.equal(b.banner().all().find((n) => n.tagName === 'H2').textContent, 'Tu privacidad', 'other keys stay built in');
  },

  // The banner's buttons post the decision; "accept all" grants all three.
  async accept(b) {
    await b.load();
    click(b, 'Aceptar todo');
    await until(b, 2);
    assert.equal(b.calls[0].body, '{"v":1,"analytics":true,"marketing":true,"functional":true,"policy":"2026-01"}');
    assert.equal(b.banner(), undefined, 'banner gone');
    assert.equal(b.listeners.keydown.length, 0, 'the focus trap is gone');
  },
  async rejectbtn(b) {
    await b.load();
    click(b, 'Rechazar todo');
    await until(b, 1);
    assert.equal(b.calls.length, 1);
    assert.equal(b.calls[0].body, '{"v":1,"analytics":false,"marketing":false,"functional":false,"policy":"2026-01"}');
    assert.equal(b.banner(), undefined);
  },

  // Customize: three unticked toggles and "save choices"; analytics alone
  // gives a granular decision (and the GA4 path only).
  async granular(b) {
    await b.load();
    click(b, 'Personalizar');
    const boxes = b.banner().all().filter((n) => n.tagName === 'INPUT');
    assert.deepEqual(boxes.map((x) => [x.type, x.name, x.checked, x.shown()]), [
      ['checkbox', 'analytics', false, true],
      ['checkbox', 'marketing', false, true],
      ['checkbox', 'functional', false, true],
    ]);
    assert.equal(b.doc.focused, boxes[0], 'the first toggle has the focus');
    assert.deepEqual(shownButtons(b).map((x) => x.textContent), ['Aceptar todo', 'Rechazar todo', 'Guardar selección']);
    const names = b.banner().all().filter((n) => n.tagName === 'LABEL').map((n) => n.text());
    assert.deepEqual(names, [
      'AnalíticaMedir las visitas y cómo se usa el sitio.',
      'MarketingCompartir visitas y compras con plataformas publicitarias para medir y personalizar anuncios.',
      'FuncionalidadRecordar tus preferencias y activar funciones adicionales.',
    ]);
    boxes[0].checked = true;
    click(b, 'Guardar selección');
    await until(b, 2);
    assert.equal(b.calls[0].body, '{"v":1,"analytics":true,"marketing":false,"functional":false,"policy":"2026-01"}');
    assert.equal(JSON.parse(b.calls[1].body).consent.marketing, false);
    assert.equal(b.banner(), undefined);
  },
  async granular2(b) {
    await b.load();
    click(b, 'Personalizar');
    const boxes = b.banner().all().filter((n) => n.tagName === 'INPUT');
    boxes[1].checked = true;
    boxes[2].checked = true;
    click(b, 'Guardar selección');
    await until(b, 2);
    assert.equal(b.calls[0].body, '{"v":1,"analytics":false,"marketing":true,"functional":true,"policy":"2026-01"}');
  },

  // Keyboard: initial focus inside the dialog, Tab wraps from the last
  // control to the first and back, Escape does not dismiss, a Tab from
  // outside comes back in; after the choice the focus returns.
  async keyboard(b) {
    b.doc.focused = b.pageButton;
    await b.load();
    const banner = b.banner();
    const root = banner.rootNode();
    assert.equal(root.activeElement, banner, 'the dialog itself has the focus');
    assert.equal(banner.tabIndex, -1);
    const link = banner.all().find((n) => n.tagName === 'A');
    const [acc, rej, cus] = shownButtons(b);
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push(b.press('Tab') && b.doc.focused);
    assert.deepEqual(seen, [link, acc, rej, cus, link], 'Tab from the last goes to the first');
    b.press('Tab', true);
    assert.equal(b.doc.focused, cus, 'Shift+Tab from the first goes to the last');
    const esc = b.press('Escape');
    assert.equal(esc.defaultPrevented, false);
    assert.ok(b.banner(), 'Escape does not dismiss');
    b.doc.focused = b.pageButton; // a click on the page
    b.press('Tab');
    assert.equal(b.doc.focused, link, 'Tab from outside comes back in');
    // open the details: the toggles join the cycle, "save" replaces "customize"
    cus.onclick();
    const boxes = banner.all().filter((n) => n.tagName === 'INPUT');
    const save = shownButtons(b)[2];
    assert.equal(b.doc.focused, boxes[0]);
    const seen2 = [];
    for (let i = 0; i < 6; i++) seen2.push(b.press('Tab') && b.doc.focused);
    assert.deepEqual(seen2, [boxes[1], boxes[2], acc, rej, save, link]);
    b.press('Tab', true);
    assert.equal(b.doc.focused, save);
    save.onclick();
    await until(b, 1);
    assert.equal(b.calls[0].body, '{"v":1,"analytics":false,"marketing":false,"functional":false,"policy":"2026-01"}');
    assert.equal(b.banner(), undefined);
    assert.equal(b.doc.focused, b.pageButton, 'the focus goes back');
    assert.equal(b.listeners.keydown.length, 0);
  },

  // The floating reopen link (LoaderConfig.ReopenLink): shown once
  // decided, reopens the banner with the current choices ticked.
  async reopenlink(b) {
    await b.load();
    await until(b, 1);
    assert.equal(b.banner(), undefined);
    const find = () => b.body.all().find((n) => n.className === 'r');
    const r = find();
    assert.ok(r && r.shown(), 'the reopen link');
    assert.equal(r.textContent, 'Configuración de privacidad');
    assert.equal(r.attrs['aria-haspopup'], 'dialog');
    r.focus();
    r.onclick();
    assert.ok(b.banner(), 'reopened');
    assert.equal(find(), undefined, 'no link while the banner is open');
    click(b, 'Personalizar');
    const boxes = b.banner().all().filter((n) => n.tagName === 'INPUT');
    assert.deepEqual(boxes.map((x) => x.checked), [true, true, false], 'the current decision (flags 3)');
    boxes[1].checked = false;
    click(b, 'Guardar selección');
    await until(b, 2);
    assert.equal(b.calls[1].body, '{"v":1,"analytics":true,"marketing":false,"functional":false,"policy":"2026-01"}');
    assert.equal(b.banner(), undefined);
    assert.ok(find(), 'the link is back');
    assert.equal(b.doc.focused && b.doc.focused.className, 'r', 'with the focus');
  },
};

// The client-side pixels of shopConfig (tag_test.go).
const TAGS = [
  'https://connect.facebook.net/en_US/fbevents.js',
  'https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ',
  'https://snap.licdn.com/li.lms-analytics/insight.min.js',
  'https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=CDEMO0000000000000AB&lib=ttq',
  'https://static.ads-twitter.com/uwt.js',
];

// plain copies what the loader's realm made (arguments, arrays, objects)
// into this realm's plain values, for deepEqual.
const plain = (x) => JSON.parse(JSON.stringify(x, (k, v) => (v && typeof v == 'object' && typeof v.length == 'number' && !Array.isArray(v) ? [...v] : v)));

// vendorGlobals: what the page's window holds of the vendors' tags.
function vendorGlobals(w) {
  return ['fbq', '_fbq', 'dataLayer', 'lintrk', '_linkedin_partner_id', 'ttq', 'twq'].filter((k) => w[k] !== undefined);
}

// nothingThirdParty: no tag script injected, no vendor global defined.
function nothingThirdParty(b) {
  assert.deepEqual(b.scripts(), [], 'no third-party script');
  assert.deepEqual(vendorGlobals(b.win), [], 'no vendor tag set up');
}

// checkTags: with marketing consent the five official tags load once,
// initialised with the pixel ids, and each mapped event reaches every tag
// with the first-party beacon's event id.
function checkTags(b) {
  const w = b.win;
  assert.deepEqual(b.scripts(), TAGS);
  for (const s of b.head.all().filter((n) => n.tagName === 'SCRIPT')) assert.equal(s.async, true);
  const evs = b.calls.filter((c) => c.url === COLLECT).flatMap(events);
  const id = (name) => {
    const e = evs.find((x) => x.name === name);
    assert.ok(e, 'beacon has ' + name);
    return e.id;
  };
  const pv = id('page_view');
  const buy = id('purchase');
  const fbq = plain(w.fbq.queue);
  assert.deepEqual(fbq[0], ['init', '1234567890']);
  assert.deepEqual(fbq.slice(1).map((a) => [a[0], a[1], a[2], a[4]]), [
    ['trackSingle', '1234567890', 'PageView', { eventID: pv }],
    ['trackSingle', '1234567890', 'Purchase', { eventID: buy }],
    ['trackSingle', '1234567890', 'zz_quiz', { eventID: id('custom:zz_quiz') }],
  ]);
  assert.equal(fbq[2][3].value, 12.5);
  assert.equal(w._fbq, w.fbq);
  const dl = plain(w.dataLayer);
  assert.equal(dl[0][0], 'js');
  assert.deepEqual(dl[1], ['config', 'G-ABC123XYZ', { send_page_view: false }]);
  assert.deepEqual(dl.slice(2).map((a) => [a[0], a[1], a[2].send_to, a[2].event_id]), [
    ['event', 'page_view', 'G-ABC123XYZ', pv],
    ['event', 'purchase', 'G-ABC123XYZ', buy],
    ['event', 'zz_quiz', 'G-ABC123XYZ', id('custom:zz_quiz')],
  ]);
  assert.equal(dl[3][2].currency, 'EUR');
  assert.equal(w._linkedin_partner_id, '7654321');
  assert.deepEqual(plain(w._linkedin_data_partner_ids), ['7654321']);
  assert.deepEqual(plain(w.lintrk.q), [['track', { conversion_id: 222, event_id: buy }]]);
  assert.equal(w.TiktokAnalyticsObject, 'ttq');
  assert.deepEqual(Object.keys(w.ttq._i), ['CDEMO0000000000000AB']);
  assert.equal(w.ttq._i.CDEMO0000000000000AB._u, 'https://analytics.tiktok.com/i18n/pixel/events.js');
  assert.deepEqual(plain([...w.ttq]).map((a) => [a[0], a[1], a[3]]), [['track', 'Purchase', { event_id: buy }]], 'TikTok has no page view; lead is unmapped');
  assert.deepEqual(plain(w.twq.queue), [
    ['config', 'o8z6j'],
    ['event', 'tw-o8z6j-o87nf', { conversion_id: buy }],
  ]);
}

async function trackForTags(b) {
  b.win.pgw('track', 'purchase', { value: 12.5, currency: 'EUR' });
  b.win.pgw('track', 'custom:zz_quiz', { step: 2 });
  b.win.pgw('track', 'custom:zz_skip');
}

Object.assign(scenarios, {
  // Client-side pixels: nothing third-party before the decision; "accept
  // all" loads the tags, which get the held and later events.
  async tags(b) {
    await b.load();
    await trackForTags(b);
    await tick();
    nothingThirdParty(b);
    click(b, 'Aceptar todo');
    await until(b, 2);
    checkTags(b);
  },
  // A marketing cookie from an earlier page: the tags load at once.
  async tagscookie(b) {
    await b.load();
    await trackForTags(b);
    await until(b, () => b.calls.filter((c) => c.url === COLLECT).flatMap(events).length >= 4);
    checkTags(b);
  },
  // Analytics only, reject all, a marketing toggle left off: beacons as
  // before, no tag.
  async tagsanalytics(b) {
    await b.load();
    await trackForTags(b);
    click(b, 'Personalizar');
    b.banner().all().filter((n) => n.tagName === 'INPUT')[0].checked = true;
    click(b, 'Guardar selección');
    await until(b, 2);
    assert.equal(b.calls[1].url, COLLECT);
    nothingThirdParty(b);
  },
  async tagsreject(b) {
    await b.load();
    await trackForTags(b);
    click(b, 'Rechazar todo');
    await until(b, 1);
    nothingThirdParty(b);
  },
  // The next page after a revocation: the cookie says analytics only.
  async tagsrevoked(b) {
    await b.load();
    await trackForTags(b);
    await until(b, 1);
    assert.equal(b.calls[0].url, COLLECT);
    nothingThirdParty(b);
  },
  // A revocation on the page: later events reach no tag.
  async tagsrevoke(b) {
    await b.load();
    await until(b, 1);
    const before = b.win.fbq.queue.length;
    b.win.pgw('consent', { analytics: true, marketing: false });
    await until(b, 2);
    b.win.pgw('track', 'purchase', { value: 1, currency: 'EUR' });
    await until(b, 3);
    assert.equal(b.calls[2].url, COLLECT);
    assert.equal(b.win.fbq.queue.length, before, 'no event to the tag after the revocation');
    assert.equal(b.win.twq.queue.length, 1, 'only the config');
    assert.equal(b.win.ttq.length, 0);
  },
});

const MARKETING = 'jaraba_consent=1.k1.3.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln';

const options = {
  tags: { lang: 'es' },
  tagscookie: { cookie: MARKETING },
  tagsanalytics: { lang: 'es' },
  tagsreject: { lang: 'es' },
  tagsrevoked: { cookie: 'jaraba_consent=1.k1.1.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln' },
  tagsrevoke: { cookie: MARKETING },
  consent: { lang: 'es', cookie: '_fbp=fb.1.1732880000000.1116446470; _fbc=fb.1.1732880000000.Old' },
  cookie: { lang: 'es', cookie: 'x=1; jaraba_consent=1.k1.3.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln; y=2' },
  oldpolicy: { cookie: 'jaraba_consent=1.k1.amf.2025-01.1732890000.subj.c2ln' },
  retry: { answers: { [CONSENT]: [503], [COLLECT]: [503, 'network', 204] } },
  solo: { answers: { [COLLECT]: [400, 204, 400] } },
  nofetch: { noFetch: true },
  prefix: { script: 'https://www.shop.example/m/s/k4f9q2.js' },
  lang: { lang: 'pt-BR', navLang: 'es-ES' },
  langnav: { lang: 'fr', navLang: 'en-GB' },
  langdefault: { lang: 'fr', navLang: 'de-DE' },
  accept: { lang: 'es' },
  rejectbtn: { lang: 'es' },
  granular: { lang: 'es' },
  granular2: { lang: 'es' },
  keyboard: { lang: 'es' },
  reopenlink: { lang: 'es', cookie: 'jaraba_consent=1.k1.3.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln' },
  ids: { cookie: '_fbp=bogus; _fbc=fb.1.x.y; _ttp=abc_DEF-1' },
  restored: { lang: 'es', restore: 'jaraba_consent=1.k1.3.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln' },
  nostatus: { lang: 'es', cookie: 'jaraba_consent=1.k1.3.2026-01.1732890000.7d1c0f2e-0000-4000-8000-000000000001.c2ln' },
};

(async () => {
  const fn = scenarios[scenario];
  if (!fn) throw new Error('unknown scenario ' + scenario);
  const b = browser(options[scenario] || {});
  await fn(b);
  process.stdout.write(JSON.stringify({ calls: b.calls }) + '\n');
})().catch((e) => {
  const at = String((e && e.stack) || '').split('\n').filter((l) => l.startsWith('    at ')).slice(0, 4);
  process.stderr.write(String((e && e.message) || e) + '\n' + at.join('\n') + '\n');
  process.exit(1);
});
