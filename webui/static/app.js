// The node's live page: reads the snapshot from /ui/events (Server-Sent
// Events, authenticated by the page's cookie) and draws it; the ping and
// traceroute forms use the control API's POST /ping and /traceroute.
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var R = 100; // radius of the ring in SVG units
  var state = null;
  var circles = {}; // Node-ID -> circle element
  var $ = function (id) { return document.getElementById(id); };

  // status shows a message in #status, styled as an error unless ok.
  // known counts the distinct peers of the ring's lists.
  function known(r) {
    var seen = {};
    [r.successors, r.predecessors, r.fingers, r.others].forEach(function (l) { l.forEach(function (id) { seen[id] = true; }); });
    return Object.keys(seen).length;
  }
  function status(msg, ok) { var el = $('status'); el.textContent = msg || ''; el.className = ok ? 'ok' : ''; }

  // angle in radians of a Node-ID: id / 2^bits of a turn, 0 at the top,
  // clockwise. 48 bits of the id are plenty for a drawing.
  function angle(hex) {
    var f = parseInt((hex + '000000000000').slice(0, 12), 16) / 281474976710656;
    return f * 2 * Math.PI;
  }
  function pos(hex, r) {
    var a = angle(hex), rr = r || R;
    return [rr * Math.sin(a), -rr * Math.cos(a)];
  }
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function short(hex) { return hex.length > 12 ? hex.slice(0, 8) + '…' + hex.slice(-4) : hex; }
  function num(v, d) { return (typeof v === 'number' && isFinite(v)) ? v.toFixed(d) : '0'; }

  function fillDest(hex) {
    $('tr-dest').value = hex;
    $('ping-dest').value = hex;
    $('tr-dest').focus();
  }

  // The ring is one stop of the Tab key; the arrow keys go round it
  // (a roving tabindex), Enter puts the peer's Node-ID in the forms.
  var current = null;
  function roving() {
    Object.keys(circles).forEach(function (id) { circles[id].setAttribute('tabindex', id === current ? '0' : '-1'); });
  }

  function drawRing(s) {
    var ring = s.ring, roles = {};
    function role(list, r) { (list || []).forEach(function (id) { (roles[id] = roles[id] || []).push(r); }); }
    role(ring.others, 'other');
    role(ring.fingers, 'finger');
    role(ring.predecessors, 'pred');
    role(ring.successors, 'succ');
    roles[ring.self] = ['self'];
    var peers = $('peers');
    Object.keys(circles).forEach(function (id) {
      if (!roles[id]) { peers.removeChild(circles[id]); delete circles[id]; }
    });
    Object.keys(roles).forEach(function (id) {
      var c = circles[id];
      if (!c) {
        var p = pos(id);
        c = el('circle', { cx: p[0].toFixed(2), cy: p[1].toFixed(2), tabindex: '-1', 'data-node-id': id }, peers);
        el('title', {}, c);
        c.addEventListener('click', function () { fillDest(id); });
        c.addEventListener('focus', function () { current = id; roving(); });
        c.addEventListener('keydown', function (e) {
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fillDest(id); return; }
          var d = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
          if (!d && e.key !== 'Home') return;
          e.preventDefault();
          var ids = Object.keys(circles).sort(function (a, b) { return angle(a) - angle(b); });
          var next = e.key === 'Home' ? state.node_id : ids[(ids.indexOf(id) + d + ids.length) % ids.length];
          if (circles[next]) circles[next].focus();
        });
        circles[id] = c;
      }
      var rs = roles[id], self = rs[0] === 'self';
      c.setAttribute('class', 'peer ' + rs.join(' '));
      c.setAttribute('r', self ? 6 : (rs[0] === 'other' && rs.length === 1 ? 3 : 4.5));
      c.setAttribute('role', 'button');
      var label = (self ? 'this node' : rs.map(function (r) {
        return { succ: 'successor', pred: 'predecessor', finger: 'finger', other: 'other peer' }[r];
      }).join(', ')) + ': ' + id;
      c.setAttribute('aria-label', label);
      c.firstChild.textContent = label;
    });
    // Self on top.
    if (!circles[current]) current = ring.self;
    roving();
    // (moved only when needed: moving an element drops its focus)
    if (circles[ring.self] && peers.lastChild !== circles[ring.self]) peers.appendChild(circles[ring.self]);
    var edges = $('edges');
    while (edges.firstChild) edges.removeChild(edges.firstChild);
    var o = pos(ring.self);
    function chords(list, cls) {
      (list || []).forEach(function (id) {
        var p = pos(id);
        // A quadratic curve bending toward the centre reads better than
        // a straight chord for close neighbours.
        var mx = (o[0] + p[0]) / 2 * 0.6, my = (o[1] + p[1]) / 2 * 0.6;
        el('path', { 'class': 'edge ' + cls, d: 'M' + o[0].toFixed(2) + ' ' + o[1].toFixed(2) + ' Q' + mx.toFixed(2) + ' ' + my.toFixed(2) + ' ' + p[0].toFixed(2) + ' ' + p[1].toFixed(2) }, edges);
      });
    }
    chords(ring.fingers, 'finger');
    chords(ring.predecessors, 'pred');
    chords(ring.successors, 'succ');
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function fill(tbody, rows, cols) {
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      cols(r).forEach(function (c) { cell(tr, c[0], c[1]); });
      frag.appendChild(tr);
    });
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    tbody.appendChild(frag);
  }

  function render(s) {
    state = s;
    $('node-id').textContent = short(s.node_id);
    $('node-id').title = s.node_id;
    document.title = 'RELOAD node ' + short(s.node_id);
    $('summary').textContent = (s.client ? 'client' : 'peer') + ' of ' + s.overlay + ' · ' +
      (s.joined ? 'joined' : 'not joined') + ' · up ' + Math.round(s.uptime_s) + ' s · ' +
      s.links.length + ' links · ' + known(s.ring) + ' peers known';
    drawRing(s);
    var links = $('links').querySelector('tbody');
    links.setAttribute('data-count', s.links.length);
    fill(links, s.links, function (l) {
      var ice = l.ice ? l.ice.local_type + ' ' + l.ice.local + ' → ' + l.ice.remote_type + ' ' + l.ice.remote : '—';
      return [[short(l.node_id)], [l.type], [l.remote], [ice], [num(l.rtt_ms, 2), 'n'], [num(l.rto_ms, 0), 'n'],
        [String(l.frames_sent), 'n'], [String(l.retransmissions), 'n'], [num(l.age_s, 0), 'n']];
    });
    links.querySelectorAll('tr').forEach(function (tr, i) { tr.setAttribute('data-node-id', s.links[i].node_id); tr.firstChild.title = s.links[i].node_id; });
    var t = s.traffic;
    $('traffic-summary').textContent = 'forwarded ' + num(t.forwarded_per_s, 2) + '/s · answer hops (mean) ' + num(t.answer_hops_mean, 2);
    function pairs(m) { return Object.keys(m || {}).sort().map(function (k) { return [k, m[k]]; }); }
    fill($('traffic-req'), pairs(t.requests_per_s), function (p) { return [[p[0]], [num(p[1], 2), 'n']]; });
    fill($('traffic-ans'), pairs(t.answers_per_s), function (p) { return [[p[0]], [num(p[1], 2), 'n']]; });
    fill($('storage').querySelector('tbody'), s.storage.kinds, function (k) {
      return [[k.name + ' (' + k.kind + ')'], [String(k.values), 'n'], [String(k.bytes), 'n'], [String(k.replicas), 'n']];
    });
    fill($('sip').querySelector('tbody'), s.sip.registrations, function (r) { return [[r.aor], [String(r.contacts), 'n']]; });
  }

  // drawPath draws hops (from the node outward) on the ring one by one.
  var pathTimer = null;
  function drawPath(hops) {
    var g = $('path'), list = $('hops');
    if (pathTimer) { clearTimeout(pathTimer); pathTimer = null; }
    while (g.firstChild) g.removeChild(g.firstChild);
    while (list.firstChild) list.removeChild(list.firstChild);
    var prev = state ? state.node_id : null, i = 0;
    function step() {
      if (i >= hops.length) { pathTimer = null; return; }
      var h = hops[i++];
      var li = document.createElement('li');
      li.textContent = (h.node ? h.node : '?') + (h.error ? '  ! ' + h.error : '  ' + num(h.rtt_ms, 3) + ' ms');
      list.appendChild(li);
      var hop = el('g', { 'data-hop': String(h.n || i), 'data-to': h.node || '' }, g);
      if (h.node) {
        var p = pos(h.node), a = prev ? pos(prev) : p;
        el('line', { x1: a[0].toFixed(2), y1: a[1].toFixed(2), x2: p[0].toFixed(2), y2: p[1].toFixed(2) }, hop);
        el('circle', { cx: p[0].toFixed(2), cy: p[1].toFixed(2), r: 7 }, hop);
        var q = pos(h.node, R + 12);
        var tx = el('text', { x: q[0].toFixed(2), y: q[1].toFixed(2), 'text-anchor': q[0] < 0 ? 'end' : 'start' }, hop);
        tx.textContent = (h.n || i) + ': ' + (h.error ? 'error' : num(h.rtt_ms, 1) + ' ms');
        el('title', {}, hop).textContent = 'hop ' + (h.n || i) + ' ' + h.node + (h.error ? ' ' + h.error : ' ' + num(h.rtt_ms, 3) + ' ms');
        prev = h.node;
      }
      pathTimer = setTimeout(step, 250);
    }
    step();
  }

  function post(path, dest, button) {
    status('');
    button.disabled = true;
    return fetch(path + '?dest=' + encodeURIComponent(dest), {
      method: 'POST', credentials: 'same-origin', headers: { 'X-Reload-UI': '1' }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) throw new Error(b.error ? b.error + (b.code ? ' (' + b.code + ')' : '') : 'HTTP ' + r.status);
        return b;
      });
    }).finally(function () { button.disabled = false; });
  }

  $('traceroute-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var f = e.target, dest = f.elements.dest.value.trim();
    if (!dest) return;
    post('/traceroute', dest, f.querySelector('button')).then(function (hops) {
      drawPath(Array.isArray(hops) ? hops : []);
      status('traceroute to ' + dest + ': ' + (Array.isArray(hops) ? hops.length : 0) + ' hops', true);
    }).catch(function (err) { status('traceroute: ' + err.message); });
  });
  $('ping-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var f = e.target, dest = f.elements.dest.value.trim();
    if (!dest) return;
    post('/ping', dest, f.querySelector('button')).then(function (res) {
      drawPath([{ n: 1, node: res.from || '', rtt_ms: res.rtt_ms }]);
      status('ping ' + dest + ': answered by ' + (res.from ? short(res.from) : '?') + ' in ' + num(res.rtt_ms, 3) + ' ms', true);
    }).catch(function (err) { status('ping: ' + err.message); });
  });

  var es = new EventSource('/ui/events');
  es.addEventListener('state', function (e) {
    try { render(JSON.parse(e.data)); if (/^(connection|update)/.test($('status').textContent)) status(''); }
    catch (err) { status('update failed: ' + err.message); }
  });
  es.addEventListener('error', function () {
    status(es.readyState === EventSource.CLOSED ? 'connection closed: reload the page' : 'connection lost, retrying…');
  });
})();
