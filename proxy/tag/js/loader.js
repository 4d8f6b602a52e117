// pixelgw loader: the first-party script a tenant's pages load from the
// tenant's own host. Plain JavaScript for evergreen browsers, no build step:
// Go (proxy/tag) puts the tenant's config object in place of the last
// line's placeholder, minifies it and compresses it. The consent POST body and the consent
// cookie the loader reads are documented in proxy/tag/doc.go; the beacon
// body in proxy/collect/doc.go.
//
// Rules this file keeps:
//   - before a consent decision nothing is sent and nothing is stored:
//     events wait in memory (held);
//   - no event data and no click id ever goes in a URL: all in POST bodies;
//   - fetch(keepalive, credentials:'include') first, sendBeacon only when
//     fetch is missing or refuses the request, or the page is going away;
//   - unsent events are kept for the page's life and retried with backoff;
//   - a platform's own browser tag (client-side pixels, C.cs) is loaded
//     only with marketing consent, and gets each event's same id.
(function (w, d, C) {
  'use strict';
  if (w.pgw && w.pgw.l) return; // loaded twice

  var MAX_BODY = 32768; // collect's Limits.MaxBodyBytes
  var MAX_EVENTS = 25; // collect's Limits.MaxEvents
  var MAX_HELD = 200; // events kept in memory before the decision
  var MAX_QUEUE = 500; // events kept in memory after it
  var CLICK = ['gclid', 'gbraid', 'wbraid', 'ttclid', 'li_fat_id', 'twclid'];
  var USER = ['em', 'ph', 'fn', 'ln', 'ge', 'db', 'ct', 'st', 'zp', 'country', 'external_id'];
  var KEY = /^[A-Za-z_]\w{0,39}$/;
  var ID = /^[\w.~+\/=-]{1,512}$/;
  var FBP = /^fb\.\d\.\d{1,16}\.\d{1,20}(\.[\w.~+\/=-]+)?$/;
  var FBC = /^fb\.\d\.\d{1,16}\./;
  var CTRL = /[\0-\x08\v\f\x0e-\x1f\x7f-\x9f]/g;
  var loc = w.location;
  var nav = navigator;
  var E = new TextEncoder();
  var D = new TextDecoder();

  var held = []; // events before the decision (memory only)
  var queue = []; // {j: JSON of the event, n: its bytes, f: in flight, s: send alone}
  var decision = null; // the consent POST body: {v, analytics, marketing, functional, policy}
  var ready = 0; // decision known to the server (posted, or read from its cookie)
  var gen = 0; // bumps on each decision: a stale consent retry stops
  var timer = 0;
  var busy = 0;
  var wait = 0; // current backoff, ms
  var sid = '';
  var landed = Date.now();
  var last = landed; // engagement clock (GA4 engagement_time_msec)
  var cur = loc.href;
  var ref = d.referrer;
  var page = loc.pathname + loc.search;
  var base = origin();
  var ids = clickIds();

  // ---- helpers

  function bytes(s) {
    return E.encode(s).length;
  }

  // cut returns s well-formed (no lone surrogates) and at most n UTF-8 bytes.
  function cut(s, n) {
    var b = E.encode(s);
    return D.decode(b.length > n ? b.subarray(0, n - 3) : b);
  }

  function cookie(n) {
    var m;
    try {
      m = d.cookie.match('(?:^|; )' + n + '=([^;]*)');
    } catch (x) {} // sandboxed frames
    return m ? m[1] : '';
  }

  function has(s) {
    return C.lp.some(function (l) {
      return s && s.indexOf(l) >= 0;
    });
  }

  // origin is where the edge answers: the script's own origin, plus the
  // same-origin prefix when a tenant's proxy serves it under one
  // (https://www.shop.com/m/x.js -> https://www.shop.com/m).
  function origin() {
    var s = (d.currentScript || {}).src;
    var u, p, pre = '';
    if (!has(s)) {
      [].some.call(d.getElementsByTagName('script'), function (e) {
        return has(e.src) && (s = e.src);
      });
    }
    u = new URL(s || loc.href);
    p = u.pathname;
    C.lp.some(function (l) {
      return p.slice(-l.length) == l && ((pre = p.slice(0, -l.length)), 1);
    });
    return u.origin + pre;
  }

  // clickIds reads the landing URL's click ids and the first-party cookies
  // once; they go in the beacon body (never in a URL), with marketing
  // consent only.
  function clickIds() {
    var q = new URLSearchParams(loc.search);
    var o = {};
    var v = q.get('fbclid');
    o.fbp = cookie('_fbp');
    o.fbc = v ? 'fb.1.' + landed + '.' + v : cookie('_fbc');
    o.ttp = cookie('_ttp');
    CLICK.forEach(function (k) {
      o[k] = q.get(k) || '';
    });
    // a malformed id would get the whole beacon refused: leave it out
    for (v in o) if (!ID.test(o[v])) delete o[v];
    if (!FBP.test(o.fbp)) delete o.fbp;
    if (!FBC.test(o.fbc)) delete o.fbc;
    return o;
  }

  function uuid() {
    var c = w.crypto || {};
    var b = new Uint8Array(16);
    var h;
    if (c.randomUUID) return c.randomUUID();
    if (c.getRandomValues) c.getRandomValues(b);
    else for (h = 0; h < 16; h++) b[h] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    h = [].map.call(b, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function str(v) {
    return cut(String(v).replace(CTRL, ''), 512);
  }

  // scalar keeps what collect accepts as a value: string, finite number, bool.
  function scalar(v) {
    var t = typeof v;
    return t == 'string' ? str(v) : t == 'boolean' || (t == 'number' && isFinite(v)) ? v : null;
  }

  // fields copies at most max keys of o whose names collect accepts, with
  // the values val returns (null drops the key).
  function fields(o, max, val) {
    var r = {};
    var n = 0;
    var k;
    var v;
    for (k in o) {
      if (n < max && KEY.test(k) && (v = val(o[k], k)) != null) {
        r[k] = v;
        n++;
      }
    }
    return r;
  }

  function prop(v) {
    return Array.isArray(v)
      ? v.slice(0, 50).map(function (x) {
          return x && typeof x == 'object' ? fields(x, 16, scalar) : scalar(x);
        }).filter(function (x) {
          return x != null;
        })
      : scalar(v);
  }

  function session() {
    var s;
    try {
      s = w.sessionStorage;
      sid = sid || s.getItem('pgw_sid') || '';
      if (!/^\d{1,20}$/.test(sid)) s.setItem('pgw_sid', (sid = '' + Math.floor(landed / 1e3)));
    } catch (x) {
      sid = sid || '' + Math.floor(landed / 1e3);
    }
    return sid;
  }

  // ---- the page API

  function track(name, props, user) {
    var now = Date.now();
    var u = {};
    var e;
    var id;
    if (typeof name != 'string' || !name) return;
    props = props && typeof props == 'object' ? props : {};
    id = props.event_id;
    user = user && typeof user == 'object' ? user : {};
    USER.forEach(function (k) {
      var v = user[k];
      if (v != null && v !== '' && typeof v != 'object') u[k] = str(v).replace(/\s+/g, ' ').trim();
    });
    e = {
      name: name,
      id: id ? String(id).toLowerCase() : uuid(),
      ts: now,
      url: url(loc.href),
      ref: ref ? url(ref) : '',
      eng: Math.min(now - last, 864e5),
      props: fields(props, 32, function (v, k) {
        return k == 'event_id' ? null : prop(v);
      }),
      user: u,
    };
    last = now;
    add(e);
  }

  function url(u) {
    return u.length > 2048 ? u.split(/[?#]/)[0].slice(0, 2048) : u;
  }

  // allowed: marketing consent sends everything the tenant's pixels take;
  // analytics alone only the GA4 path; nothing else sends at all.
  function allowed() {
    return decision && (decision.marketing ? C.px.length : decision.analytics && C.px.indexOf('google') >= 0);
  }

  function add(e) {
    var j;
    if (!ready) {
      if (held.length < MAX_HELD) held.push(e);
      return;
    }
    if (!allowed()) return;
    tags(e);
    if (queue.length >= MAX_QUEUE) return;
    if (!decision.marketing) e.user = {};
    j = JSON.stringify(e);
    if (bytes(j) < MAX_BODY / 2) queue.push({ j: j, n: bytes(j), e: e });
    schedule(0);
  }

  // ---- client-side pixels (proxy/tag doc.go, "Client-side pixels"): with
  // marketing consent only, each pixel's official tag is set up (the
  // vendor's queue stub, then its script) and sent every event its map
  // names, with the beacon's event id so the platform deduplicates. A
  // revocation stops the sending at once; the tags load no more from the
  // next page on.

  var CS = C.cs || [];
  var tagged = {}; // event ids sent to the tags
  var urls = []; // tag scripts injected

  function tags(e) {
    if (!decision.marketing || tagged[e.id] || !CS.length) return;
    if (!urls.length) CS.forEach(boot);
    tagged[e.id] = 1;
    CS.forEach(function (m) {
      var n = m.e[e.name];
      if (n == null && m.c && !e.name.indexOf('custom:')) n = e.name.slice(7);
      if (n) SEND[m.p](m.i, n, e.props, e.id);
    });
  }

  function boot(m) {
    var s;
    INIT[m.p](m.i, m.u);
    if (urls.indexOf(m.u) < 0) {
      urls.push(m.u);
      s = d.createElement('script');
      s.async = true;
      s.src = m.u;
      (d.head || d.body).appendChild(s);
    }
  }

  function dl() {
    (w.dataLayer = w.dataLayer || []).push(arguments);
  }

  // stub: the vendors' own queueing functions, as their snippets define them
  function stub(k, run, v) {
    var f = w[k];
    if (!f) {
      f = w[k] = function () {
        f[run] ? f[run].apply(f, arguments) : f.queue.push(arguments);
      };
      f.push = f;
      f.loaded = !0;
      f.version = v;
      f.queue = [];
    }
    return f;
  }

  var INIT = {
    meta: function (i) {
      var f = stub('fbq', 'callMethod', '2.0');
      w._fbq = w._fbq || f;
      f('init', i);
    },
    google: function (i) {
      dl('js', new Date());
      dl('config', i, { send_page_view: false });
    },
    linkedin: function (i) {
      w._linkedin_partner_id = i;
      (w._linkedin_data_partner_ids = w._linkedin_data_partner_ids || []).push(i);
      if (!w.lintrk) {
        w.lintrk = function (a, b) {
          w.lintrk.q.push([a, b]);
        };
        w.lintrk.q = [];
      }
    },
    tiktok: function (i, u) {
      var t = w.ttq;
      if (!t) {
        w.TiktokAnalyticsObject = 'ttq';
        t = w.ttq = [];
        t._i = {};
        t._t = {};
        t._o = {};
        ['page', 'track', 'identify'].forEach(function (k) {
          t[k] = function () {
            t.push([k].concat([].slice.call(arguments)));
          };
        });
      }
      t._i[i] = [];
      t._i[i]._u = u.split('?')[0];
      t._t[i] = +new Date();
      t._o[i] = {};
    },
    twitter: function (i) {
      stub('twq', 'exe', '1.1')('config', i);
    },
  };

  var SEND = {
    meta: function (i, n, p, id) {
      w.fbq('trackSingle', i, n, p, { eventID: id });
    },
    google: function (i, n, p, id) {
      dl('event', n, Object.assign({ send_to: i, event_id: id }, p));
    },
    linkedin: function (i, n, p, id) {
      w.lintrk('track', { conversion_id: +n, event_id: id });
    },
    tiktok: function (i, n, p, id) {
      w.ttq.track(n, p, { event_id: id });
    },
    twitter: function (i, n, p, id) {
      w.twq('event', n, { conversion_id: id });
    },
  };

  // ---- consent

  function consent(c) {
    var my;
    var body;
    if (c == 'show') return showBanner();
    if (!c || typeof c != 'object') return;
    decision = {
      v: 1,
      analytics: !!c.analytics,
      marketing: !!c.marketing,
      functional: !!c.functional,
      policy: C.p,
    };
    hideBanner();
    my = ++gen;
    ready = 0;
    // events not yet in flight wait for the new decision's filter
    queue = queue.filter(function (q) {
      return q.f || (held.push(q.e), 0);
    });
    body = JSON.stringify(decision);
    (function go(pause) {
      post(C.k, body).then(
        function (r) {
          if (my != gen) return;
          if (r.status == 429 || r.status >= 500) again(r);
          else {
            ready = 1;
            held.splice(0).forEach(add);
          }
        },
        function () {
          again();
        }
      );
      function again(r) {
        if (my == gen) setTimeout(go, (pause = backoff(pause, r)), pause);
      }
    })(0);
  }

  // fromCookie reads the decision the server set in jaraba_consent
  // (1.<kid>.<flags>.<policy>.<unix>.<subject>.<sig>); one made under
  // another policy version does not count.
  function fromCookie() {
    var p = cookie('jaraba_consent').split('.');
    var f = p[2] || '';
    function on(c, b) {
      return /^\d+$/.test(f) ? !!(f & b) : f.indexOf(c) >= 0;
    }
    if (p[0] != '1' || p.length < 7 || p.slice(3, -3).join('.') != C.p) return;
    decision = { v: 1, analytics: on('a', 1), marketing: on('m', 2), functional: on('f', 4), policy: C.p };
    return (ready = 1);
  }

  // restore runs when there is no (current) consent cookie: the edge may
  // know the visitor (HttpOnly jaraba_visitor_id) and set the cookie again
  // from the visitor's current record, e.g. after a browser capped the
  // cookie's lifetime. Otherwise, or on any failure, the banner shows.
  function restore() {
    var my = gen;
    function fin() {
      if (my != gen || decision) return;
      if (fromCookie()) {
        hideBanner();
        held.splice(0).forEach(add);
      } else showBanner();
    }
    try {
      fetch(base + C.k, { credentials: 'include' }).then(fin, fin);
    } catch (e) {
      fin();
    }
  }

  // ---- sending

  function backoff(pause, r) {
    var after = r && r.headers && +r.headers.get('Retry-After');
    pause = Math.min(Math.max(pause * 2, 1e3, after * 1e3 || 0), 6e4);
    return pause / 2 + (Math.random() * pause) / 2;
  }

  function post(path, body) {
    var to = base + path;
    try {
      return fetch(to, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'include',
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      });
    } catch (x) {
      return beacon(to, body);
    }
  }

  function beacon(to, body) {
    return Promise.resolve({ status: nav.sendBeacon && nav.sendBeacon(to, body) ? 204 : 0 });
  }

  function schedule(ms) {
    if (!timer) timer = setTimeout(send, ms);
  }

  // send posts the next batch: the events queued in the same tick, at most
  // MAX_EVENTS and MAX_BODY bytes per beacon. all (the page is being hidden)
  // sends every batch at once instead of one at a time.
  function send(all) {
    var batch = [];
    var head;
    var size;
    var body;
    timer = 0;
    if (busy && !all) return;
    head = JSON.stringify({
      v: 1,
      events: [],
      ids: decision.marketing ? ids : undefined,
      sid: session(),
      consent: { analytics: decision.analytics, marketing: decision.marketing, functional: decision.functional, policy: C.p },
    });
    size = bytes(head);
    queue.some(function (q) {
      if (q.f) return;
      if (batch.length && (q.s || batch[0].s || batch.length >= MAX_EVENTS || size + q.n + 1 > MAX_BODY)) return 1;
      size += q.n + 1;
      batch.push(q);
      q.f = 1;
    });
    if (!batch.length) return;
    body = head.replace(
      '[]',
      '[' + batch.map(function (q) {
        return q.j;
      }).join(',') + ']'
    );
    busy++;
    (d.visibilityState == 'hidden' ? beaconFirst : post)(C.c, body).then(
      function (r) {
        var s = r.status;
        busy--;
        batch.forEach(function (q) {
          q.f = 0;
        });
        if (s == 429 || s >= 500 || !s) return retry(r);
        wait = 0;
        if ((s == 400 || s == 413) && batch.length > 1) {
          // one bad event must not sink the others: resend one by one
          batch.forEach(function (q) {
            q.s = 1;
          });
        } else drop(batch);
        schedule(0);
      },
      function () {
        busy--;
        batch.forEach(function (q) {
          q.f = 0;
        });
        retry();
      }
    );
    if (all) send(all);
  }

  // beaconFirst: while the page is hidden it may be unloading, and a
  // keepalive fetch over the page's 64 KiB in-flight budget is refused; try
  // fetch, then sendBeacon.
  function beaconFirst(path, body) {
    return post(path, body).catch(function () {
      return beacon(base + path, body);
    });
  }

  function drop(batch) {
    queue = queue.filter(function (q) {
      return batch.indexOf(q) < 0;
    });
  }

  function retry(r) {
    wait = backoff(wait, r);
    clearTimeout(timer);
    timer = 0;
    schedule(wait);
  }

  // ---- single-page apps: a page_view per history change

  function moved() {
    var k = loc.pathname + loc.search;
    if (k == page) return;
    page = k;
    ref = cur;
    cur = loc.href;
    track('page_view');
  }

  if (C.spa) {
    ['pushState', 'replaceState'].forEach(function (m) {
      var orig = history[m];
      history[m] = function () {
        var r = orig.apply(this, arguments);
        moved();
        return r;
      };
    });
    w.addEventListener('popstate', moved);
  }

  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState == 'hidden' && ready && queue.length) send(1);
  });

  // ==== BANNER ========================================================
  // (Documented in proxy/tag/doc.go, "Banner".) A modal dialog in a
  // shadow root (the page's CSS cannot restyle it, ours cannot leak), fixed at the bottom of the viewport (no layout shift), in
  // the tenant's colours and texts. "Accept all" and "Reject all" are the
  // same element with the same class (equally prominent); "Customize" opens
  // the three toggles (analytics, marketing, functional: all choices, none
  // pre-ticked on a first visit, the current decision when reopened) and
  // "Save choices". Keyboard: native buttons, checkboxes and link; initial
  // focus on the dialog itself (no choice preselected); Tab and Shift+Tab
  // wrap inside the dialog, and a Tab pressed while focus is outside brings
  // it back in; Escape does nothing: the dialog closes only with a choice.
  // The slide-in runs only under prefers-reduced-motion: no-preference.

  var CATS = ['analytics', 'marketing', 'functional'];
  var CSS =
    ':host{all:initial}' +
    '#pgw-banner,.r{position:fixed;z-index:2147483647;box-sizing:border-box;font:14px/1.45 system-ui,sans-serif;background:var(--b);color:var(--f);box-shadow:0 0 12px #0006}' +
    '#pgw-banner{left:0;right:0;bottom:0;margin:0 auto;max-width:640px;max-height:100vh;overflow:auto;padding:16px 20px;border-radius:8px 8px 0 0}' +
    'h2{font-size:16px;margin:0 0 6px}p{margin:0 0 8px;white-space:pre-line}a{color:inherit}' +
    'label{display:flex;gap:10px;padding:6px 0;cursor:pointer}input{accent-color:var(--k);width:18px;height:18px;margin:1px 0 0;flex:none}small{display:block;opacity:.85}' +
    '.b{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}button{font:inherit;cursor:pointer;border-radius:4px;padding:8px 16px;border:2px solid var(--k)}' +
    '.p{flex:1 1 0;background:var(--k);color:var(--kf)}.s{background:0 0;color:inherit;border-color:currentColor}' +
    '.r{left:12px;bottom:12px;padding:6px 12px;border-radius:16px;font-size:12px}' +
    ':focus-visible{outline:3px solid var(--f);outline-offset:2px}[hidden]{display:none}' +
    '@media (prefers-reduced-motion:no-preference){#pgw-banner{animation:pgw .25s ease-out}}@keyframes pgw{from{transform:translateY(100%)}}';
  var ui = 0; // the open banner's shadow host
  var link = 0; // the reopen link's shadow host
  var trap = 0; // the open banner's keydown handler
  var prev = 0; // what had the focus before the banner opened

  // lang: the page's language (<html lang>), else the browser's
  // (navigator.language), else the tenant's default — the first of them
  // that is among the tenant's languages, matched on the primary subtag
  // (pt-BR -> pt). A visitor reads the language of the page in front of him.
  function lang() {
    var l;
    [d.documentElement.lang, nav.language, C.l].some(function (x) {
      return C.t[(x = (x || '').slice(0, 2).toLowerCase())] && (l = x);
    });
    return l || C.l;
  }

  function el(tag, parent, text, cls) {
    var e = d.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return parent.appendChild(e);
  }

  // mount appends a shadow host to the body: [host, its shadow root].
  function mount() {
    var h = d.createElement('div');
    var r = h.attachShadow({ mode: 'open' });
    var c = C.col;
    el('style', r, CSS + ':host{--b:' + c.bg + ';--f:' + c.fg + ';--k:' + c.btn + ';--kf:' + c.btnfg + '}');
    d.body.appendChild(h);
    return [h, r];
  }

  function later(f) {
    return !d.body && (d.addEventListener('DOMContentLoaded', f), 1);
  }

  function showBanner() {
    var l = lang();
    var t = C.t[l];
    var cur = decision || {};
    var m;
    var box;
    var p;
    var a;
    var more;
    var row;
    var save;
    var items = [];
    var btns = [];
    if (later(showBanner)) return;
    if (!ui) prev = link && d.activeElement == link ? 1 : d.activeElement; // 1: the reopen link
    unmount();
    m = mount();
    ui = m[0];
    box = el('div', m[1]);
    box.id = 'pgw-banner';
    box.lang = l;
    box.tabIndex = -1;
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('aria-labelledby', 'pgw-t');
    box.setAttribute('aria-describedby', 'pgw-d');
    el('h2', box, t.title).id = 'pgw-t';
    p = el('p', box, t.body + ' ');
    p.id = 'pgw-d';
    if (C.pu) {
      a = el('a', p, t.privacy);
      a.href = C.pu;
      a.target = '_blank';
      a.rel = 'noopener';
    }
    more = el('div', box);
    more.id = 'pgw-o';
    more.hidden = true;
    more.setAttribute('role', 'group');
    CATS.forEach(function (k) {
      var lb = el('label', more);
      var i = el('input', lb);
      var s = el('span', lb);
      i.type = 'checkbox';
      i.name = k;
      i.checked = !!cur[k];
      el('b', s, t[k]);
      el('small', s, t[k + '_desc']);
      items.push(i);
    });
    row = el('div', box, '', 'b');
    function btn(text, cls, f) {
      var b = el('button', row, text, cls);
      b.type = 'button';
      b.onclick = f;
      btns.push(b);
      return b;
    }
    function pick(v) {
      consent({ analytics: v[0], marketing: v[1], functional: v[2] });
    }
    btn(t.accept, 'p', function () {
      pick([1, 1, 1]);
    });
    btn(t.reject, 'p', function () {
      pick([0, 0, 0]);
    });
    save = btn(t.save, 'p', function () {
      pick(items.map(function (i) {
        return i.checked;
      }));
    });
    save.hidden = true;
    btn(t.customize, 's', function () {
      more.hidden = save.hidden = false;
      btns.pop().remove();
      items[0].focus();
    }).setAttribute('aria-controls', 'pgw-o');
    trap = function (e) {
      var f = (a ? [a] : []).concat(more.hidden ? [] : items, btns).filter(function (x) {
        return !x.hidden;
      });
      var i = f.indexOf(m[1].activeElement);
      // Escape is ignored on purpose: no dismissal without a choice
      if (e.key == 'Tab' && (i < 0 || i == (e.shiftKey ? 0 : f.length - 1))) {
        e.preventDefault();
        f[e.shiftKey ? f.length - 1 : 0].focus();
      }
    };
    d.addEventListener('keydown', trap, true);
    box.focus({ preventScroll: true });
  }

  // unmount removes the banner (giving the focus back to what had it) and
  // the reopen link; it returns whether the focus belongs on the link.
  function unmount() {
    var f = link && d.activeElement == link;
    if (ui) {
      d.removeEventListener('keydown', trap, true);
      ui.remove();
      ui = 0;
      if (prev && prev.focus) prev.focus({ preventScroll: true });
      f = prev === 1;
    }
    if (link) link.remove();
    link = 0;
    return f;
  }

  // hideBanner closes the banner and, once there is a decision, puts up the
  // reopen link when the tenant wants one (LoaderConfig.ReopenLink).
  function hideBanner() {
    var f = unmount();
    var m;
    var b;
    if (decision && C.rl && !later(hideBanner)) {
      m = mount();
      b = el('button', m[1], C.t[lang()].reopen, 'r');
      b.type = 'button';
      b.setAttribute('aria-haspopup', 'dialog');
      b.onclick = showBanner;
      link = m[0];
      if (f) b.focus({ preventScroll: true });
    }
  }
  // ==== END BANNER ======================================================

  // ---- start: replace the queue stub, replay what the page queued

  function pgw(cmd, a, b, c) {
    if (cmd == 'track') track(a, b, c);
    else if (cmd == 'consent') consent(a);
  }
  pgw.l = 1;
  var q = (w.pgw && w.pgw.q) || [];
  w.pgw = pgw;
  if (fromCookie()) hideBanner(); // the reopen link, if any
  else restore();
  track('page_view');
  q.forEach(function (x) {
    pgw.apply(null, x);
  });
})(window, document, __PGW_CONFIG__);
