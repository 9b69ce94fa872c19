/* graphscope diff report: two viewer panes (viewer.js, one per pane) kept in step, coloured
   by each node's status, and a table of changes. Hand-written, no dependencies, offline.
   window.graphscope is replaced by the diff's own test hook (see docs/diff.md); the panes'
   own hooks stay reachable as window.graphscope.a and .b. */
(function () {
'use strict';
var D = JSON.parse(document.querySelector('script.gsd-data').textContent);
var roots = {a: document.querySelector('.gsd-pane[data-side="a"] .gs-root'),
             b: document.querySelector('.gsd-pane[data-side="b"] .gs-root')};
var hooks = {a: roots.a.graphscope, b: roots.b.graphscope};
var V = {a: hooks.a.viewer, b: hooks.b.viewer};
var OTHER = {a: 'b', b: 'a'};
var RANK = {changed: 4, only_a: 3, only_b: 3, shapes: 2, same: 1};
var syncPan = document.querySelector('.gsd-sync');
var suppress = 0, following = false;

function frame() { return new Promise(function (r) { requestAnimationFrame(function () { r(); }); }); }

// the status of a drawn box: its node's, or the strongest among a collapsed group's members
function boxStatus(side, v, b) {
  var st = D.status[side], names = v.D.nodes;
  if (b.kind === 'node') return st[names[b.ref][0]] || null;
  if (b.kind !== 'group') return null;
  var best = null;
  b.members.forEach(function (k) {
    var s = st[names[k][0]];
    if (s && (!best || RANK[s] > RANK[best])) best = s;
  });
  return best;
}

['a', 'b'].forEach(function (side) {
  var v = V[side], boxEl = v.boxEl, openPanel = v.openPanel;
  v.boxEl = function (i, detail) {  // colour every box as it is drawn
    var g = boxEl.call(this, i, detail), s = boxStatus(side, this, this.cur.view.boxes[i]);
    if (s && s !== 'same') g.classList.add('gsd-' + s);
    return g;
  };
  v.openPanel = function (k) {  // selecting a node selects its partner in the other pane
    openPanel.call(this, k);
    if (following) return;
    var partners = D.partner[side][this.D.nodes[k][0]];
    markRow(side, this.D.nodes[k][0]);
    if (!partners || !partners.length) return;
    following = true; suppress++;
    V[OTHER[side]].select(partners[0]).then(done, done);
    function done() { following = false; suppress--; remember(); }
  };
  if (v.els) {  // drawn already: draw again, coloured
    for (var i in v.els) v.els[i].g.remove();
    v.els = {};
    v.schedule();
  }
});

// pan/zoom in one pane moves the other by the same screen transform
function tf(v) { return {scale: v.scale, tx: v.tx, ty: v.ty}; }
var last = {a: tf(V.a), b: tf(V.b)};
function remember() { last.a = tf(V.a); last.b = tf(V.b); }
function moved(now, before) { return now.scale !== before.scale || now.tx !== before.tx || now.ty !== before.ty; }
function follow(now, before, v) {
  var ds = now.scale / before.scale;
  v.scale *= ds;
  v.tx = ds * v.tx + (now.tx - ds * before.tx);
  v.ty = ds * v.ty + (now.ty - ds * before.ty);
  v.schedule();
}
function poll() {
  if (!suppress && syncPan.checked) {
    var na = tf(V.a), nb = tf(V.b), ma = moved(na, last.a), mb = moved(nb, last.b);
    if (ma && !mb) follow(na, last.a, V.b);
    else if (mb && !ma) follow(nb, last.b, V.a);
  }
  remember();
  requestAnimationFrame(poll);
}

// the table of changes
var tbody = document.querySelector('.gsd-table tbody'), rowsByName = {a: {}, b: {}};
D.rows.forEach(function (r, i) {
  var tr = document.createElement('tr');
  tr.className = 'gsd-row';
  tr.setAttribute('data-row', i);
  [r[0].replace('_', ' '), r[1].join(' + '), r[2].join(' + '), r[3]].forEach(function (text, c) {
    var td = document.createElement('td');
    if (c === 0) { var key = document.createElement('i'); key.className = 'gsd-key gsd-' + r[0]; td.appendChild(key); }
    td.appendChild(document.createTextNode(text));
    tr.appendChild(td);
  });
  tr.onclick = function () { selectRow(i); };
  tbody.appendChild(tr);
  r[1].forEach(function (n) { rowsByName.a[n] = i; });
  r[2].forEach(function (n) { rowsByName.b[n] = i; });
});

function markRow(side, name) {
  var cur = tbody.querySelector('tr.gsd-current');
  if (cur) cur.classList.remove('gsd-current');
  var i = rowsByName[side][name];
  if (i !== undefined) tbody.children[i].classList.add('gsd-current');
}

function selectRow(i) {
  var r = D.rows[i];
  return r[1].length ? select('a', r[1][0]) : select('b', r[2][0]);
}

// select a node in one pane; its partner (if any) is selected in the other
function select(side, name) {
  return ready.then(function () { return V[side].select(name); }).then(function () {
    return waitIdle();
  });
}
function waitIdle() {
  return frame().then(function () { return following ? waitIdle() : frame(); });
}

function selectedName(side) {
  var v = V[side];
  return v.selected >= 0 ? v.D.nodes[v.selected][0] : null;
}

function boxClasses(side, name) {  // the diff classes of the drawn box of a node or of a
  var v = V[side];                   // collapsed namespace, or null when it is not drawn
  for (var i in v.els) {
    var b = v.cur.view.boxes[i];
    if ((b.kind === 'node' && v.D.nodes[b.ref][0] === name) ||
        (b.kind === 'group' && v.D.namespaces[b.ns][0] === name))
      return Array.prototype.filter.call(v.els[i].g.classList, function (c) { return c.indexOf('gsd-') === 0; });
  }
  return null;
}

var ready = Promise.all([hooks.a.ready, hooks.b.ready]).then(function () {
  remember();
  requestAnimationFrame(poll);
  return frame();
});

window.graphscope = {
  ready: ready,
  a: hooks.a, b: hooks.b,
  summary: function () { return D.summary; },
  status: function (side, name) { return D.status[side][name] || null; },
  partner: function (side, name) { return D.partner[side][name] || []; },
  select: select,
  selected: function () { return {a: selectedName('a'), b: selectedName('b')}; },
  boxClasses: boxClasses,
  transform: function (side) { return tf(V[side]); },
  zoom: function (side, factor) { V[side].zoomAt(factor); return frame().then(frame); },
  rows: function () { return D.rows.map(function (r) { return {status: r[0], a: r[1], b: r[2], text: r[3]}; }); },
  selectRow: function (i) { return ready.then(function () { return selectRow(i); }); }
};
})();
