// The status page of turnout: reads /status every POLL_MS and redraws.
// Every value is user data (names, messages): the DOM is built with
// textContent and createElement only, never from HTML strings.
'use strict';

const POLL_MS = 1500;
// Under `turnout run` one page per selection: ?selection=namespace/name.
const SELECTION = new URLSearchParams(location.search).get('selection');
const QUERY = SELECTION ? '?selection=' + encodeURIComponent(SELECTION) : '';
let polls = 0;
const PHASES = [['stopMs', 'stop'], ['syncMs', 'sync'], ['startMs', 'start'], ['readyMs', 'ready'], ['rollbackMs', 'rollback']];
let lastUpdated = null;

// An element with a class and children (strings become text nodes).
function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

function text(id, value) {
  document.getElementById(id).textContent = value === null || value === undefined ? '–' : String(value);
}

function row(cells, cls) {
  const tr = el('tr', cls);
  for (const c of cells) tr.append(c instanceof Node ? el('td', null, c) : el('td', null, c === undefined || c === null ? '' : String(c)));
  return tr;
}

function head(cells) {
  const tr = el('tr');
  for (const c of cells) tr.append(el('th', null, c));
  return el('thead', null, tr);
}

function badge(label, cls) {
  return el('span', 'badge ' + cls, label);
}

function readyCondition(doc) {
  return (doc.status.conditions || []).find((c) => c.type === 'Ready');
}

function renderSummary(doc) {
  text('plan', 'plan ' + doc.plan + ', selection ' + doc.selection);
  text('active', doc.status.activeVersion || 'none');
  text('desired', doc.desiredVersion);
  const ready = readyCondition(doc);
  const readyBox = document.getElementById('ready');
  readyBox.replaceChildren(ready
    ? badge(ready.status === 'True' ? 'Ready' : ready.reason, ready.status === 'True' ? 'ok' : 'bad')
    : document.createTextNode('–'));
  text('engine', doc.engine);
  text('updated', doc.updatedAt);
  text('ready-message', ready ? ready.message : '');
  const fe = document.getElementById('file-error');
  fe.hidden = !doc.fileError;
  fe.textContent = doc.fileError ? 'The last edit of ' + doc.file + ' was ignored: ' + doc.fileError : '';
}

function renderContainers(doc) {
  const active = doc.status.activeVersion;
  const body = document.querySelector('#containers tbody');
  const rows = (doc.status.containers || []).map((c) => row([
    el('span', 'mono', c.name),
    c.role,
    c.state,
    badge(c.ready ? 'ready' : 'not ready', c.ready ? 'ok' : 'bad'),
    el('span', 'mono', c.image || ''),
    el('span', 'mono', (c.ports || []).join(', ')),
  ], c.role === active ? 'active' : null));
  body.replaceChildren(...rows);
  const blockers = doc.blockers || [];
  document.getElementById('blockers').hidden = blockers.length === 0;
  document.getElementById('blocker-list').replaceChildren(...blockers.map((b) => el('li', null, blockerText(b))));
}

function holderText(h) {
  if (!h) return 'something';
  if (h.container) return 'container ' + h.container.name;
  if (h.process) return 'process ' + (h.process.name || '?') + (h.process.pid ? ' (pid ' + h.process.pid + ')' : '');
  return JSON.stringify(h);
}

// A blocker as the status document has it: `reason` in camelCase, its
// fields as the Rust names them (wanted_by).
function blockerText(b) {
  if (b.reason === 'portConflict') {
    return 'port ' + b.port + '/' + b.protocol + ', planned for ' + b.wanted_by + ', is held by ' + holderText(b.holder);
  }
  const rest = Object.entries(b).filter(([k]) => k !== 'reason').map(([k, v]) => k + ': ' + (typeof v === 'string' ? v : JSON.stringify(v)));
  return b.reason + ' — ' + rest.join(', ');
}

function totalMs(p) {
  return PHASES.reduce((sum, [key]) => sum + (p[key] || 0), 0);
}

function renderHistory(doc) {
  const history = doc.status.history || [];
  const longest = Math.max(1, ...history.map((h) => totalMs(h.phases || {})));
  const items = history.map((h) => {
    const phases = h.phases || {};
    const bar = el('div', 'bar');
    for (const [key, name] of PHASES) {
      if (phases[key] === undefined) continue;
      const seg = el('span', 'phase ' + name);
      // CSSOM, not a style attribute: allowed by the page's policy.
      seg.style.width = (100 * phases[key] / longest) + '%';
      seg.title = name + ' ' + phases[key] + ' ms';
      bar.append(seg);
    }
    const times = PHASES.filter(([k]) => phases[k] !== undefined).map(([k, n]) => n + ' ' + phases[k] + ' ms').join(', ');
    const li = el('li', h.outcome,
      el('div', null, badge(h.outcome, h.outcome), ' ', el('strong', null, (h.from || '(none)') + ' → ' + h.to), ' ',
        el('span', 'muted', h.startedAt + (times ? ' · ' + times : ''))),
      bar,
      h.message ? el('div', 'error', h.message) : null,
      h.dataSync ? el('div', 'muted', 'data: DataSync ' + h.dataSync) : null);
    li.dataset.outcome = h.outcome;
    return li;
  });
  document.getElementById('history').replaceChildren(...(items.length ? items : [el('li', 'muted', 'no switch yet')]));
}

function renderSyncs(doc) {
  const syncs = (doc.dataSyncs || []).map((s) => {
    const phase = (s.status && s.status.phase) || 'Pending';
    const steps = ((s.status && s.status.steps) || []).map((st) => row([
      st.binding,
      el('span', 'mono', st.source + ' → ' + st.target),
      st.bytes,
      st.rows,
      el('span', 'mono', (st.sourceChecksum || '') + (st.targetChecksum ? ' / ' + st.targetChecksum : '')),
      el('span', 'mono', st.backup || ''),
      st.durationMs + ' ms',
    ]));
    const table = el('table', null,
      head(['Binding', 'Copy', 'Bytes', 'Rows', 'Checksums (source / target)', 'Backup', 'Took']),
      el('tbody', null, ...steps));
    return el('div', 'datasync',
      el('div', null, badge(phase, phase), ' ', el('strong', 'mono', s.name), ' ',
        el('span', 'muted', s.spec.from + ' → ' + s.spec.to)),
      s.status && s.status.message ? el('div', phase === 'Failed' ? 'error' : 'muted', s.status.message) : null,
      steps.length ? table : null);
  });
  document.getElementById('syncs').replaceChildren(...(syncs.length ? syncs : [el('p', 'muted', 'no DataSync yet')]));
  const lineage = Object.entries(doc.data || {}).map(([db, w]) => row([
    el('span', 'mono', db),
    el('span', 'mono', w.source),
    w.at,
    el('span', 'mono', w.checksum),
    w.lineage ? [w.lineage.environment, w.lineage.plan, w.lineage.version, w.lineage.database].filter(Boolean).join(' / ') : (w.read ? 'read as a source' : ''),
  ]));
  document.querySelector('#lineage tbody').replaceChildren(...(lineage.length ? lineage : [row(['nothing copied yet', '', '', '', ''], 'muted')]));
}

// A port map comes from the server as SVG text whose every value is
// escaped; it is parsed as XML (never as HTML) and refused if it holds
// anything but drawing elements. A map the server no longer has (a refused
// edit since fixed) is cleared.
async function drawSvg(url, id) {
  const r = await fetch(url, { cache: 'no-store' });
  const box = document.getElementById(id);
  if (r.status === 404) box.replaceChildren();
  if (!r.ok) return;
  const parsed = new DOMParser().parseFromString(await r.text(), 'image/svg+xml');
  const svg = parsed.documentElement;
  if (svg.nodeName !== 'svg' || parsed.querySelector('parsererror, script, foreignObject, iframe')) return;
  box.replaceChildren(document.importNode(svg, true));
}

async function renderPortmap(doc) {
  await drawSvg('/portmap.svg' + QUERY, 'portmap');
  if (doc.refusedEdit) {
    await drawSvg('/portmap.svg?refused=1' + (SELECTION ? '&selection=' + encodeURIComponent(SELECTION) : ''), 'refused-portmap');
  }
}

// An edit of the desired file that read as a plan but broke its rules:
// refused, not applied. Its rules as text here; its map in renderPortmap.
function renderRefused(doc) {
  const edit = doc.refusedEdit;
  document.getElementById('refused').hidden = !edit;
  if (!edit) {
    document.getElementById('refused-rules').replaceChildren();
    document.getElementById('refused-portmap').replaceChildren();
    return;
  }
  text('refused-title', 'Refused edit of plan ' + edit.plan + ', not applied');
  document.getElementById('refused-rules').replaceChildren(...(edit.broken || []).map((b) => {
    const li = el('li', null, el('strong', null, b.rule), b.port ? ' at port ' + b.port : '', ' (', el('span', 'mono', b.path), '): ', b.message);
    li.dataset.rule = b.rule;
    if (b.port) li.dataset.port = String(b.port);
    return li;
  }));
}

// Links to the other selections this turnout reconciles, when there are several.
async function renderSelections() {
  const r = await fetch('/ui/selections', { cache: 'no-store' });
  if (!r.ok) return;
  const keys = await r.json();
  const nav = document.getElementById('selections');
  nav.hidden = keys.length < 2;
  nav.replaceChildren(...keys.map((k) => {
    const a = el('a', k === SELECTION ? 'current' : null, k);
    a.href = '/ui?selection=' + encodeURIComponent(k);
    return a;
  }));
}

async function tick() {
  try {
    if (polls++ % 10 === 0) await renderSelections();
    const r = await fetch('/status' + QUERY, { cache: 'no-store' });
    if (r.status === 503) {
      text('conn', 'waiting for the first reconcile…');
    } else if (!r.ok) {
      text('conn', '/status answered ' + r.status);
    } else {
      const doc = await r.json();
      renderSummary(doc);
      renderContainers(doc);
      renderHistory(doc);
      renderSyncs(doc);
      renderRefused(doc);
      if (doc.updatedAt !== lastUpdated) {
        lastUpdated = doc.updatedAt;
        await renderPortmap(doc);
      }
      text('conn', 'live · read ' + new Date().toLocaleTimeString());
      document.body.dataset.updatedAt = doc.updatedAt;
    }
  } catch (e) {
    text('conn', 'cannot reach turnout: ' + e.message + ' (retrying)');
  } finally {
    setTimeout(tick, POLL_MS);
  }
}

tick();
