// OrleansSessions dashboard: polls /api/cluster every second and follows /api/events (server-sent events).
// With Security:ApiToken set, open /?token=<token> (or answer the prompt); the token is kept in sessionStorage.
(function () {
  'use strict';
  const MAX_EVENTS = 50;
  const params = new URLSearchParams(window.location.search);
  let token = params.get('token') || sessionStorage.getItem('orleansSessionsToken') || '';
  if (token) { sessionStorage.setItem('orleansSessionsToken', token); }
  let previous = null;

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
      const entered = window.prompt('This silo requires its API token (Security:ApiToken):');
      if (entered) { token = entered; sessionStorage.setItem('orleansSessionsToken', token); startEvents(); }
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

  function addEvent(evt) {
    const body = $('events').querySelector('tbody');
    const row = document.createElement('tr');
    row.className = 'event';
    row.dataset.type = evt.type;
    row.dataset.sessionId = evt.session.sessionId;
    const cells = [
      evt.at.replace('T', ' ').replace('Z', ''),
      evt.type,
      evt.session.sessionId,
      evt.session.userId,
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

  let source = null;
  function startEvents() {
    if (source) { source.close(); }
    source = new EventSource('api/events' + (token ? '?access_token=' + encodeURIComponent(token) : ''));
    source.onopen = () => { document.body.dataset.events = 'open'; };
    source.onmessage = (message) => {
      try { addEvent(JSON.parse(message.data)); } catch (error) { console.error('bad event', error); }
    };
    source.onerror = () => { document.body.dataset.events = 'reconnecting'; };
  }

  startEvents();
  poll();
})();
