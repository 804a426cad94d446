// OrleansSessions dashboard: polls /api/cluster every second and /api/stats/history every 2 s (charts of the last
// 10 minutes, drawn as SVG), lists /api/events/recent at load and then follows /api/events (server-sent events).
// With Security:ApiToken set, open /?token=<token> (or answer the prompt); the token is kept in sessionStorage.
(function () {
  'use strict';
  const MAX_EVENTS = 50;
  const HISTORY_SECONDS = 600;
  const SVG = 'http://www.w3.org/2000/svg';
  const params = new URLSearchParams(window.location.search);
  let token = params.get('token') || sessionStorage.getItem('orleansSessionsToken') || '';
  if (token) { sessionStorage.setItem('orleansSessionsToken', token); }
  let previous = null;
  let prompting = false;

  const $ = (id) => document.getElementById(id);
  const text = (value) => (value === null || value === undefined) ? '–' : String(value);

  function setConnection(ok, label) {
    const badge = $('connection');
    badge.textContent = label;
    badge.className = 'badge ' + (ok ? 'ok' : 'bad');
  }

  async function api(path) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const response = await fetch(path, { headers, cache: 'no-store' });
    if (response.status === 401) {
      // One prompt, however many requests were refused at once.
      if (!prompting) {
        prompting = true;
        const entered = window.prompt('This silo requires its API token (Security:ApiToken):');
        prompting = false;
        if (entered) { token = entered; sessionStorage.setItem('orleansSessionsToken', token); startEvents(); loadRecent(); }
      }
      throw new Error('unauthorized');
    }
    if (!response.ok) { throw new Error(path + ' answered ' + response.status); }
    return response.json();
  }

  function renderCluster(cluster) {
    const body = $('silos').querySelector('tbody');
    body.replaceChildren(...cluster.silos.map((s) => {
      const row = document.createElement('tr');
      row.className = 'silo';
      row.dataset.status = s.status;
      for (const value of [s.address, s.status, text(s.activations), text(s.live), s.gatewayPort, s.httpPort || '–']) {
        const cell = document.createElement('td');
        cell.textContent = value;
        row.appendChild(cell);
      }
      return row;
    }));
    $('live').textContent = cluster.sessions.live;
    $('silo-count').textContent = cluster.silos.filter((s) => s.status === 'active').length;
    const now = performance.now();
    if (previous) {
      const seconds = (now - previous.time) / 1000;
      if (seconds > 0) {
        $('created-rate').textContent = Math.max(0, Math.round((cluster.sessions.created - previous.created) / seconds));
        $('ended-rate').textContent = Math.max(0, Math.round((cluster.sessions.ended - previous.ended) / seconds));
      }
    }
    previous = { time: now, created: cluster.sessions.created, ended: cluster.sessions.ended };
  }

  async function poll() {
    try {
      renderCluster(await api('api/cluster'));
      setConnection(true, 'connected');
    } catch (error) {
      setConnection(false, 'offline: ' + error.message);
    } finally {
      window.setTimeout(poll, 1000);
    }
  }

  // A chart of the last HISTORY_SECONDS ending at `end` (ms): one path per series, a gap where a value is null.
  function drawChart(id, end, series) {
    const svg = $(id).querySelector('svg');
    const [width, height] = [320, 120];
    const [left, right, top, bottom] = [34, 4, 6, 14];
    let max = 0;
    for (const s of series) { for (const p of s.points) { if (p.v !== null && p.v > max) { max = p.v; } } }
    max = niceCeiling(max);
    const x = (t) => left + (width - left - right) * (1 - (end - t) / (HISTORY_SECONDS * 1000));
    const y = (v) => top + (height - top - bottom) * (1 - v / max);
    const nodes = [
      element('line', { class: 'axis', x1: left, y1: y(0), x2: width - right, y2: y(0) }),
      element('line', { class: 'axis', x1: left, y1: y(max), x2: width - right, y2: y(max) }),
      element('text', { x: left - 3, y: y(max) + 3, 'text-anchor': 'end' }, formatNumber(max)),
      element('text', { x: left - 3, y: y(0) + 3, 'text-anchor': 'end' }, '0'),
      element('text', { x: left, y: height - 2 }, '-10 min'),
      element('text', { x: width - right, y: height - 2, 'text-anchor': 'end' }, 'now'),
    ];
    for (const s of series) {
      let d = '';
      let count = 0;
      let peak = 0;
      let run = [];
      const runs = [];
      for (const p of s.points) {
        if (p.v === null || p.t < end - HISTORY_SECONDS * 1000) { if (run.length) { runs.push(run); run = []; } continue; }
        run.push(p);
        count++;
        peak = Math.max(peak, p.v);
      }
      if (run.length) { runs.push(run); }
      for (const r of runs) {
        d += r.map((p, i) => (i ? 'L' : 'M') + x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1)).join('');
      }
      nodes.push(element('path', { class: 'series series-' + s.name, d: d || 'M0,0', 'data-points': count, 'data-peak': peak }));
      // A value between gaps (an interval with expiries, say) is a dot: a lone point draws no line.
      for (const r of runs.filter((r) => r.length === 1)) {
        nodes.push(element('circle', { class: 'dot dot-' + s.name, cx: x(r[0].t).toFixed(1), cy: y(r[0].v).toFixed(1), r: 2 }));
      }
    }
    svg.replaceChildren(...nodes);
    svg.dataset.max = max;
  }

  function element(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) { node.setAttribute(key, value); }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function niceCeiling(value) {
    if (!(value > 0)) { return 1; }
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) { if (value <= step * magnitude) { return step * magnitude; } }
    return 10 * magnitude;
  }

  function formatNumber(value) {
    return value >= 1000 ? (value / 1000) + 'k' : String(Math.round(value * 100) / 100);
  }

  function renderHistory(history) {
    const samples = history.samples.map((s) => ({ ...s, t: Date.parse(s.at) }));
    const end = samples.length ? samples[samples.length - 1].t : Date.now();
    const series = (name, pick) => ({ name, points: samples.map((s) => ({ t: s.t, v: pick(s) })) });
    drawChart('chart-live', end, [series('live', (s) => s.live)]);
    drawChart('chart-created', end, [series('created', (s) => s.createdPerSecond)]);
    drawChart('chart-ended', end, [series('ended', (s) => s.endedPerSecond)]);
    drawChart('chart-lag', end, [series('p50', (s) => s.expiryLagP50Ms), series('p99', (s) => s.expiryLagP99Ms)]);
    document.body.dataset.history = String(samples.length);
  }

  async function pollHistory() {
    try {
      renderHistory(await api('api/stats/history'));
    } catch (error) {
      console.warn('history', error);
    } finally {
      window.setTimeout(pollHistory, 2000);
    }
  }

  function labelsText(labels) {
    const pairs = labels ? Object.entries(labels) : [];
    return pairs.length ? pairs.map(([key, value]) => key + '=' + value).join(', ') : '–';
  }

  function addEvent(evt, origin) {
    const body = $('events').querySelector('tbody');
    const row = document.createElement('tr');
    row.className = 'event';
    row.dataset.type = evt.type;
    row.dataset.sessionId = evt.session.sessionId;
    row.dataset.origin = origin;
    // The session's labels and the size of its data, never the data itself (attributes and messages are users' words).
    row.dataset.messageCount = text(evt.session.messageCount);
    row.dataset.dataVersion = text(evt.session.dataVersion);
    const cells = [
      evt.at.replace('T', ' ').replace('Z', ''),
      evt.type,
      evt.session.sessionId,
      evt.session.userId,
      labelsText(evt.session.labels),
      text(evt.session.messageCount),
      text(evt.session.dataVersion),
      evt.session.endedAt ? 'ended ' + evt.session.endedAt : 'expires ' + evt.session.expiresAt,
    ];
    cells.forEach((value, i) => {
      const cell = document.createElement('td');
      cell.textContent = value;
      if (i === 1) { cell.className = 'type-' + evt.type; }
      row.appendChild(cell);
    });
    body.prepend(row);
    while (body.children.length > MAX_EVENTS) { body.lastElementChild.remove(); }
  }

  // Events shown once, whether they came from /api/events/recent or the stream (which opens first, so none falls between).
  const seen = new Set();
  const seenOrder = [];
  let recentLoaded = false;
  const pending = [];
  function showEvent(evt, origin) {
    const key = evt.type + ' ' + evt.session.sessionId + ' ' + evt.at;
    if (seen.has(key)) { return; }
    seen.add(key);
    seenOrder.push(key);
    if (seenOrder.length > 4 * MAX_EVENTS) { seen.delete(seenOrder.shift()); }
    addEvent(evt, origin);
  }

  async function loadRecent() {
    try {
      const recent = await api('api/events/recent?limit=' + MAX_EVENTS);
      for (const evt of recent.reverse()) { showEvent(evt, 'recent'); }
      document.body.dataset.recent = String(recent.length);
    } catch (error) {
      console.warn('recent events', error);
    } finally {
      recentLoaded = true;
      for (const evt of pending.splice(0)) { showEvent(evt, 'live'); }
    }
  }

  let source = null;
  function startEvents() {
    if (source) { source.close(); }
    source = new EventSource('api/events' + (token ? '?access_token=' + encodeURIComponent(token) : ''));
    source.onopen = () => { document.body.dataset.events = 'open'; };
    source.onmessage = (message) => {
      try {
        const evt = JSON.parse(message.data);
        if (recentLoaded) { showEvent(evt, 'live'); } else { pending.push(evt); }
      } catch (error) { console.error('bad event', error); }
    };
    source.onerror = () => { document.body.dataset.events = 'reconnecting'; };
  }

  // Orleans' dashboard checks the same token; its page cannot send the header, so one request with it first sets
  // the dashboard's cookie (HttpOnly, for /orleans only).
  $('orleans-link').addEventListener('click', async (event) => {
    if (!token) { return; }
    event.preventDefault();
    const target = $('orleans-link').href;
    try {
      await fetch(target, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
    } finally {
      window.location.href = target;
    }
  });

  startEvents();
  loadRecent();
  poll();
  pollHistory();
})();
