/*
 * app.js - the orch status page. Reads the controller's public GET
 * endpoints and its event stream, and draws them; it never sends anything
 * but GET, its login and its logout (changes go through orchctl).
 *
 * Reads need a read credential unless the controller runs with
 * --public-read: when the API answers 401 the page shows a login form,
 * which trades a token for an HttpOnly session cookie (POST /v1/login);
 * the cookie then rides along with every fetch and the event stream.
 *
 * Flow: load() fetches status, instances, nodes and revisions, then each
 * service's /v1/services/NAME for its depends_on, and renders everything
 * from that snapshot. Every event on /v1/events/stream schedules another
 * load (debounced), so the page follows the cluster without a reload.
 * EventSource reconnects by itself (the server sends a retry hint and
 * resumes after Last-Event-ID); while it does, a "reconnecting" badge
 * shows. Text from the cluster is always set with textContent.
 */
'use strict';

/* A marker of this page load: a test reads it before and after a change
 * to prove the page was updated in place, not reloaded. */
window.__loadId = Date.now() + '-' + Math.random().toString(36).slice(2);

const STATES = ['Provision', 'Ready', 'Run', 'Update', 'Rollback', 'Scale', 'Destroy', 'Failed'];
const DEBOUNCE_MS = 300;
const POLL_MS = 15000;       /* only while the event stream is down */
const MAX_EVENTS = 100;

const view = {
  snap: null,               /* the last complete snapshot */
  fetchedMono: 0,           /* performance.now() of that snapshot */
  events: [],               /* newest first */
  loads: 0,
  busy: false,
  again: false,
  timer: 0,
  es: null,
  opened: false,
  streamUp: false,
  ticking: false,           /* the timers of start() run */
};

/* ---- small helpers ---- */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

/* A state word in a coloured pill; unknown words keep a neutral look. */
function pill(word, detail) {
  const w = word || 'unknown';
  const text = detail && detail !== 'none' ? w + ' (' + detail + ')' : w;
  return el('span', {class: 'state st-' + w.replace(/[^A-Za-z-]/g, ''), 'data-state': w}, text);
}

function short(sha) { return sha ? String(sha).slice(0, 7) : ''; }
function firstLine(s) { return s ? String(s).split('\n')[0] : ''; }

function human(ms) {
  if (ms === undefined || ms === null || ms < 0 || !isFinite(ms)) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60 ? ' ' + (s % 60) + 's' : '');
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor(s % 86400 / 3600) + 'h';
}

function when(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/* Bytes as the manifest writes them (powers of 1024), as orchctl prints
 * them: a whole unit exactly when that is short ("384M", "8G", "1536K"),
 * else one decimal of the largest unit ("23.5G", not "24684092K"). */
function size(n) {
  if (typeof n !== 'number' || !isFinite(n) || n < 0) return '–';
  let exact = String(n);
  for (const [m, u] of [[2 ** 40, 'T'], [2 ** 30, 'G'], [2 ** 20, 'M'], [2 ** 10, 'K']])
    if (n >= m && n % m === 0) { exact = n / m + u; break; }
  if (exact.length <= 5) return exact;
  let v = n, i = -1;
  while (v >= 1024 && i < 3) { v /= 1024; i++; }
  return v.toFixed(1) + 'KMGT'[i];
}

/* Cores: at most three decimals (millicores), no float noise. */
function cores(n) {
  return typeof n === 'number' && isFinite(n) ? String(Number(n.toFixed(3))) : '–';
}

/* An age that keeps ticking: ms was the age when the snapshot was taken. */
function age(ms) {
  if (ms === undefined || ms === null || ms < 0) return el('span', {}, '–');
  return el('span', {class: 'age', 'data-age': ms, 'data-at': view.fetchedMono}, human(ms));
}

function tickAges() {
  const now = performance.now();
  for (const e of document.querySelectorAll('.age')) {
    const ms = Number(e.dataset.age) + (now - Number(e.dataset.at));
    e.textContent = human(ms);
  }
}

async function get(path) {
  const r = await fetch(path, {method: 'GET', cache: 'no-store', credentials: 'same-origin'});
  if (r.status === 401) {
    showLogin('');
    const e = new Error(path + ': log in first');
    e.status = 401;
    throw e;
  }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

/* ---- login ---- */

function showLogin(why) {
  if (view.es) { view.es.close(); view.es = null; }
  document.getElementById('login').hidden = false;
  document.getElementById('main').hidden = true;
  document.getElementById('login-error').textContent = why;
  document.body.dataset.login = 'shown';
}

async function post(path, body) {
  /* JSON only: the controller refuses a cross-site form's login. */
  return fetch(path, {method: 'POST', cache: 'no-store', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
}

async function login(ev) {
  ev.preventDefault();
  const input = document.getElementById('login-token');
  let r;
  try {
    r = await post('/v1/login', {token: input.value});
  } catch (e) {
    showLogin('the controller is unreachable');
    return;
  }
  input.value = '';
  if (!r.ok) {
    let why = 'HTTP ' + r.status;
    try { why = (await r.json()).detail || why; } catch (e) { /* keep it */ }
    showLogin(why);
    return;
  }
  document.getElementById('login').hidden = true;
  document.getElementById('main').hidden = false;
  document.getElementById('logout').hidden = false;
  document.body.dataset.login = 'done';
  start();
}

async function logout() {
  try { await post('/v1/logout', {}); } catch (e) { /* reload anyway */ }
  location.reload();
}

/* ---- loading ---- */

async function load() {
  if (view.busy) { view.again = true; return; }
  view.busy = true;
  try {
    const [status, insts, nodes, revs] = await Promise.all([
      get('/v1/status'), get('/v1/instances'), get('/v1/nodes'), get('/v1/revisions')]);
    const services = status.services || [];
    const details = await Promise.all(services.map(
      (s) => get('/v1/services/' + encodeURIComponent(s.name)).catch(() => null)));
    const deps = {};
    let haveDeps = false;
    services.forEach((s, k) => {
      const d = details[k];
      if (d && d.depends_on && typeof d.depends_on === 'object') {
        deps[s.name] = d.depends_on;
        haveDeps = true;
      }
    });
    view.snap = {status, services, deps, haveDeps,
      instances: insts.instances || [], nodes: nodes.nodes || [],
      revisions: revs.revisions || []};
    view.fetchedMono = performance.now();
    setHealth(true);
    render();
    view.loads++;
    document.body.dataset.loaded = String(view.loads);
  } catch (e) {
    if (e.status !== 401) setHealth(false, e.message);
  } finally {
    view.busy = false;
    if (view.again) { view.again = false; schedule(); }
  }
}

function schedule() {
  clearTimeout(view.timer);
  view.timer = setTimeout(load, DEBOUNCE_MS);
}

function setBadge(id, text, cls) {
  const b = document.getElementById(id);
  b.textContent = text;
  b.className = 'badge' + (cls ? ' ' + cls : '');
  b.hidden = false;
}

function setHealth(ok, why) {
  setBadge('health', ok ? 'controller: up' : 'controller: unreachable', ok ? 'ok' : 'bad');
  document.getElementById('health').title = ok ? '' : why || '';
}

/* ---- rendering ---- */

function render() {
  const s = view.snap;
  renderHeader(s);
  renderServices(s);
  renderGraph(s);
  renderNodes(s);
  renderRevisions(s);
}

function renderHeader(s) {
  const st = s.status;
  document.getElementById('arch').textContent = st.architecture || 'orch';
  document.getElementById('arch-version').textContent = st.version ? 'v' + st.version : '';
  document.title = (st.architecture ? st.architecture + ' · ' : '') + 'orch';
  const rev = document.getElementById('revision');
  if (st.revision && st.revision.commit) {
    const r = st.revision;
    rev.replaceChildren('revision ', el('code', {class: 'sha', title: r.commit}, short(r.commit)),
      ' ', el('span', {class: 'msg'}, firstLine(r.message)),
      r.author ? ' · ' + r.author : '', r.time ? ' · ' + when(r.time) : '');
  } else {
    rev.textContent = 'no revision applied yet';
  }
  /* The store cannot be written: writes are refused and nothing starts
   * (docs/reliability.md); say so where the eye lands first. */
  const store = document.getElementById('store');
  if (st.store && st.store.writable === false) {
    store.textContent = 'store not writable: ' + (st.store.error || '') +
      ' · writes refused, no new instances';
    store.hidden = false;
  } else {
    store.hidden = true;
  }
  const last = s.revisions.reduce((a, r) => (!a || (r.seq || 0) > (a.seq || 0) ? r : a), null);
  if (last) {
    const res = last.result || 'unknown';
    const cls = res === 'succeeded' ? 'ok' : res === 'failed' ? 'bad' : 'warn';
    setBadge('apply', 'last apply: ' + short(last.commit) + ' ' + res, cls);
  }
}

function serviceInstances(s, name) {
  return s.instances.filter((i) => i.service === name && i.desired !== false);
}

function renderServices(s) {
  const box = document.getElementById('services');
  if (!s.services.length) {
    box.replaceChildren(el('p', {class: 'muted'}, 'No services: nothing applied yet (orchctl apply).'));
    return;
  }
  box.replaceChildren(...s.services.map((svc) => serviceCard(s, svc)));
}

function serviceCard(s, svc) {
  const insts = serviceInstances(s, svc.name);
  const desired = svc.desired || 0, ready = svc.ready || 0;
  const card = el('article', {class: 'card st-border-' + svc.state, 'data-service': svc.name},
    el('h3', {}, el('span', {class: 'name'}, svc.name), pill(svc.state, svc.detail),
      svc.paused ? el('span', {class: 'badge warn'}, 'paused') : null),
    el('dl', {},
      el('dt', {}, 'version'), el('dd', {class: 'version'}, svc.version || '–'),
      el('dt', {}, 'kind'), el('dd', {}, svc.kind || '–'),
      el('dt', {}, 'strategy'), el('dd', {}, svc.strategy || '–'),
      el('dt', {}, 'ready'), el('dd', {class: 'ready'}, ready + '/' + desired,
        bar([[ready, 'ok']], Math.max(desired, ready, 1))),
      svc.revision ? [el('dt', {}, 'revision'), el('dd', {}, el('code', {}, short(svc.revision)))] : null),
    svc.reason ? el('div', {class: 'reason' + (svc.state === 'Failed' || svc.state === 'Rollback' ?
      ' bad' : '')}, svc.reason) : null);
  const ro = rollout(svc, insts);
  if (ro) card.append(ro);
  const hints = cliHints(svc, insts);
  if (hints.length)
    card.append(el('div', {class: 'hints'}, hints.map((h) => el('code', {}, h))));
  return card;
}

function bar(parts, total) {
  const b = el('div', {class: 'bar', role: 'img',
    'aria-label': parts.map(([n, c]) => n + ' ' + c).join(', ') + ' of ' + total});
  for (const [n, cls] of parts) {
    const span = el('span', {class: cls});
    span.style.width = (100 * Math.min(n, total) / total) + '%';
    b.append(span);
  }
  return b;
}

/* A rollout in progress. With the controller's rollout object (step,
 * steps, old, new, weight, phase, waiting_promote, wait_until) those
 * numbers are shown as they are; without it, the old and new counts come
 * from the service's instances (the desired version vs the others). */
function rollout(svc, insts) {
  const r = svc.rollout && typeof svc.rollout === 'object' ? svc.rollout : null;
  const moving = svc.state === 'Update' || svc.state === 'Rollback';
  if (!moving && !(r && r.phase)) return null;
  const has = (k) => r && typeof r[k] === 'number';
  const fresh = has('new') ? r.new : insts.filter((i) => i.version === svc.version).length;
  const old = has('old') ? r.old : insts.filter((i) => i.version !== svc.version).length;
  const freshRun = insts.filter((i) => i.version === svc.version && i.state === 'Run').length;
  const facts = [];
  if (has('step') && r.step > 0)
    facts.push((r.full ? 'full set, after step ' : 'step ') + r.step + (has('steps') ? '/' + r.steps : ''));
  if (r && r.phase) facts.push(String(r.phase));
  facts.push('new ' + (svc.version || '?') + ': ' + fresh + (has('new') ? '' : ' (' + freshRun + ' Run)'));
  facts.push('old: ' + old);
  const split = svc.traffic && svc.traffic.mode && svc.traffic.mode !== 'all';
  if (has('weight') && (split || svc.strategy === 'canary' || svc.strategy === 'blue-green'))
    facts.push('traffic to new: ' + r.weight + '%');
  if (r && r.wait_until > 0) facts.push('next step at ' + when(r.wait_until));
  const box = el('div', {class: 'rollout'},
    el('div', {}, svc.state === 'Rollback' || (r && svc.rollback) ? 'rolling back' : 'rollout',
      ' · ', facts.join(' · ')));
  if (has('step') && has('steps') && r.steps > 0)
    box.append(el('div', {class: 'muted'}, 'steps'), bar([[r.step, 'new']], r.steps));
  box.append(el('div', {class: 'muted'}, 'instances: new / old'),
    bar([[fresh, 'new'], [old, 'old']], Math.max(fresh + old, svc.desired || 0, 1)));
  if (r && r.waiting_promote)
    box.append(el('div', {class: 'waiting'}, 'waiting for a person: ',
      el('code', {}, 'orchctl promote ' + svc.name)));
  return box;
}

function cliHints(svc, insts) {
  const n = svc.name;
  if (svc.state === 'Update' || svc.state === 'Rollback')
    return ['orchctl promote ' + n, svc.paused ? 'orchctl resume ' + n : 'orchctl pause ' + n,
      'orchctl abort ' + n];
  if (svc.state === 'Failed') {
    const bad = insts.find((i) => i.state === 'Failed');
    return ['orchctl rollback ' + n].concat(bad ? ['orchctl logs ' + bad.id] : []);
  }
  return [];
}

/* The dependency graph: services in columns by dependency depth (a
 * service with no dependencies is in the first column), an arrow from
 * each service to what it depends on, each box coloured by its state and
 * carrying the state word. */
function renderGraph(s) {
  const box = document.getElementById('graph');
  if (!s.services.length) { box.replaceChildren(); return; }
  if (!s.haveDeps) {
    box.replaceChildren(el('p', {class: 'muted'}, 'The controller does not report depends_on.'));
    return;
  }
  const byName = new Map(s.services.map((x) => [x.name, x]));
  const depth = new Map();
  const depthOf = (name, path) => {
    if (depth.has(name)) return depth.get(name);
    if (path.has(name)) return 0;          /* a cycle cannot be applied; stay finite */
    path.add(name);
    let d = 0;
    for (const dep of Object.keys(s.deps[name] || {}))
      if (byName.has(dep)) d = Math.max(d, depthOf(dep, path) + 1);
    path.delete(name);
    depth.set(name, d);
    return d;
  };
  const layers = [];
  for (const x of s.services) {
    const d = depthOf(x.name, new Set());
    (layers[d] = layers[d] || []).push(x.name);
  }
  const W = 150, H = 46, GX = 70, GY = 18, P = 12;
  const pos = new Map();
  layers.forEach((names, d) => (names || []).forEach((name, k) =>
    pos.set(name, {x: P + d * (W + GX), y: P + k * (H + GY)})));
  const rows = Math.max(...layers.map((l) => (l ? l.length : 0)));
  const width = 2 * P + layers.length * W + (layers.length - 1) * GX;
  const height = 2 * P + rows * H + (rows - 1) * GY;
  const root = svg('svg', {viewBox: '0 0 ' + width + ' ' + height, width, height,
    role: 'img', 'aria-label': 'service dependency graph', id: 'depgraph'});
  root.append(svg('defs', {}, svg('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse'},
    svg('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#5b6676'}))));
  for (const x of s.services)
    for (const [dep, constraint] of Object.entries(s.deps[x.name] || {})) {
      const a = pos.get(x.name), b = pos.get(dep);
      if (!a || !b) continue;
      const x1 = a.x, y1 = a.y + H / 2, x2 = b.x + W, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      root.append(svg('path', {class: 'gedge', 'data-from': x.name, 'data-to': dep,
        d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)'},
        svg('title', {}, x.name + ' depends on ' + dep + ' ' + constraint)));
    }
  for (const x of s.services) {
    const p = pos.get(x.name);
    root.append(svg('g', {class: 'gnode st-' + x.state, 'data-service': x.name,
      transform: `translate(${p.x},${p.y})`},
      svg('title', {}, x.name + ' ' + (x.version || '') + ': ' + x.state),
      svg('rect', {width: W, height: H, rx: 6}),
      svg('text', {class: 'gname', x: 10, y: 19}, x.name + (x.version ? ' ' + x.version : '')),
      svg('text', {class: 'gstate', x: 10, y: 36}, x.state)));
  }
  box.replaceChildren(root);
}

function renderNodes(s) {
  const box = document.getElementById('nodes');
  const groups = new Map(s.nodes.map((n) => [n.name, []]));
  const unplaced = [];
  for (const i of s.instances)
    (i.node && groups.has(i.node) ? groups.get(i.node) : unplaced).push(i);
  const out = s.nodes.map((n) => nodeBox(n, groups.get(n.name)));
  if (unplaced.length) out.push(nodeBox(null, unplaced));
  if (!out.length) out.push(el('p', {class: 'muted'}, 'No node has registered.'));
  box.replaceChildren(...out);
}

/* What a node's live instances hold of what it declares, per resource:
 * "cpu 0.5 / 2", the percentage in words and a bar, so it reads without
 * colour. A controller without used_cpu/used_memory gets the capacity
 * alone, as before. */
function capacity(n) {
  if (typeof n.used_cpu !== 'number' || typeof n.used_memory !== 'number')
    return el('span', {}, 'capacity: cpu ', n.cpu ? cores(n.cpu) : '–', ', memory ', size(n.memory));
  return el('div', {class: 'usages'},
    usage('cpu', n.used_cpu, n.cpu, cores), usage('memory', n.used_memory, n.memory, size));
}

function usage(res, used, total, fmt) {
  const known = typeof total === 'number' && total > 0;
  const pct = known ? 100 * used / total : 0;
  const over = known && used > total;
  const words = !known ? 'capacity not declared' :
    (used > 0 && pct < 1 ? '<1%' : Math.round(pct) + '%') + (over ? ' over capacity' : '');
  const text = fmt(used) + ' / ' + (known ? fmt(total) : '–');
  const box = el('div', {class: 'usage' + (over ? ' over' : ''), 'data-res': res,
    'data-used': used, 'data-total': known ? total : 0},
    el('div', {class: 'uline'}, el('span', {class: 'ures'}, res), ' ',
      el('span', {class: 'uval'}, text), ' (', el('span', {class: 'upct'}, words), ')'));
  if (known) {
    const b = bar([[used, over ? 'over' : 'used']], total);
    b.setAttribute('aria-label', res + ' ' + text + ' used (' + words + ')');
    box.append(b);
  }
  return box;
}

function nodeBox(n, insts) {
  const head = n ?
    el('div', {class: 'nodehead'}, el('strong', {}, n.name), pill(n.state),
      n.drain ? el('span', {class: 'badge warn'}, 'draining') : null,
      el('span', {class: 'muted'}, n.address || ''),
      el('span', {}, 'heartbeat ', n.heartbeat_age_ms >= 0 ? [age(n.heartbeat_age_ms), ' ago'] : 'not since start'),
      el('span', {class: 'count'}, String(n.instances !== undefined ? n.instances : insts.length),
        ' instances'),
      capacity(n)) :
    el('div', {class: 'nodehead'}, el('strong', {}, 'not placed'));
  const rows = insts.map((i) => el('tr', {'data-instance': i.id},
    el('td', {}, el('code', {}, i.id)), el('td', {}, i.service), el('td', {}, i.version || '–'),
    el('td', {}, i.pid ? String(i.pid) : '–'), el('td', {}, pill(i.state)),
    el('td', {}, pill(i.health || 'unknown')), el('td', {}, String(i.restarts || 0)),
    el('td', {}, i.started_at ? age(i.age_ms) : '–')));
  return el('div', {class: 'node', 'data-node': n ? n.name : ''}, head,
    el('div', {class: 'scroll'}, el('table', {},
      el('thead', {}, el('tr', {}, ['id', 'service', 'version', 'pid', 'state', 'health',
        'restarts', 'age'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows.length ? rows :
        el('tr', {}, el('td', {colspan: 8, class: 'muted'}, 'no instances'))))));
}

function renderRevisions(s) {
  const body = document.querySelector('#revisions tbody');
  const revs = s.revisions.slice().sort((a, b) => (b.seq || 0) - (a.seq || 0));
  if (!revs.length) {
    body.replaceChildren(el('tr', {}, el('td', {colspan: 7, class: 'muted'}, 'none yet')));
    return;
  }
  body.replaceChildren(...revs.map((r) => el('tr', {'data-commit': r.commit},
    el('td', {}, r.seq !== undefined ? String(r.seq) : ''),
    el('td', {}, el('code', {title: r.commit || ''}, short(r.commit))),
    el('td', {class: 'wrap'}, r.summary || firstLine(r.message)),
    el('td', {}, r.author || ''),
    el('td', {}, when(r.time)),
    el('td', {}, r.result || ''),
    el('td', {class: 'wrap'}, changes(r)))));
}

/* What a revision changed, when the record carries its plan (the same
 * shape POST /v1/apply answers); otherwise nothing is made up. */
function changes(r) {
  const all = r.plan && Array.isArray(r.plan.services) ? r.plan.services : null;
  if (!all) return '–';
  const svcs = all.filter((c) => c.action !== 'unchanged');
  if (!svcs.length) return 'no service changed';
  return el('ul', {}, svcs.map((c) => {
    let t = c.name + ': ' + c.action;
    if (c.old_version && c.new_version && c.old_version !== c.new_version)
      t += ' ' + c.old_version + ' → ' + c.new_version;
    if (Array.isArray(c.fields) && c.fields.length) t += ' (' + c.fields.join(', ') + ')';
    return el('li', {}, t);
  }));
}

/* ---- events ---- */

function addEvent(ev) {
  if (view.events.some((e) => e.seq === ev.seq)) return;
  view.events.unshift(ev);
  view.events.sort((a, b) => b.seq - a.seq);
  view.events.length = Math.min(view.events.length, MAX_EVENTS);
}

function renderEvents() {
  const list = document.getElementById('events');
  if (!view.events.length) {
    list.replaceChildren(el('li', {class: 'muted'}, 'no events yet'));
    return;
  }
  list.replaceChildren(...view.events.map((e) => el('li', {'data-seq': e.seq},
    el('span', {class: 'time'}, when(e.time)),
    el('span', {}, [e.service, e.instance].filter(Boolean).join(' / ') || 'cluster'),
    e.from || e.to ? el('span', {}, e.from ? pill(e.from) : '', e.from && e.to ? ' → ' : '',
      e.to ? pill(e.to) : '') : null,
    e.cause ? el('span', {class: 'muted'}, e.cause) : null)));
}

function setStream(up, text, cls) {
  view.streamUp = up;
  setBadge('conn', text, cls);
}

function connect(since) {
  if (view.es) view.es.close();
  const es = new EventSource('/v1/events/stream?since=' + since);
  view.es = es;
  es.onopen = () => {
    setStream(true, 'events: live', 'ok');
    /* After a reconnect (controller restart) the state may have moved. */
    if (view.opened) schedule();
    view.opened = true;
  };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev.seq === undefined) ev.seq = Number(m.lastEventId);
    addEvent(ev);
    renderEvents();
    schedule();
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      /* The server refused the stream (not a dropped connection):
       * EventSource gives up, so try again ourselves. */
      setStream(false, 'events: reconnecting', 'warn');
      const last = view.events.length ? view.events[0].seq : since;
      setTimeout(() => { if (view.es === es) connect(last); }, 3000);
    } else {
      setStream(false, 'events: reconnecting', 'warn');
    }
    /* Find out whether the controller is down or only the stream is. */
    schedule();
  };
}

/* ?live=0: a snapshot without the event stream, for printing and for
 * headless screenshots (an open stream keeps a browser's virtual time
 * from ever running out). */
const LIVE = new URLSearchParams(location.search).get('live') !== '0';

async function start() {
  let last = 0;
  try {
    const head = await get('/v1/events?limit=1');
    last = head.last_seq || 0;
    const recent = await get('/v1/events?since=' + Math.max(0, last - 30));
    for (const e of recent.events || []) addEvent(e);
  } catch (e) {
    if (e.status === 401) return; /* the login form shows; it starts again */
    setHealth(false, e.message);
  }
  renderEvents();
  if (!LIVE) {
    setStream(false, 'events: off (snapshot)', '');
    await load();
    return;
  }
  connect(last);
  await load();
  if (view.ticking) return; /* started again after a login */
  view.ticking = true;
  setInterval(tickAges, 1000);
  /* A safety net while the stream is down (a proxy that buffers it). */
  setInterval(() => { if (!view.streamUp) schedule(); }, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('login-form').addEventListener('submit', login);
  document.getElementById('logout').addEventListener('click', logout);
  start();
});
