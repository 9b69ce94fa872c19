/* graphscope interactive viewer: hand-written, no dependencies, works from file:// offline.
   Every string from the model reaches the page through textContent or setAttribute, never
   through innerHTML. */
(function () {
'use strict';

/* ---- the compound layered layout (layout.js, inlined here when the page is written) -- */
/* @layout.js */

var layoutSync = layoutModule();
var SVGNS = 'http://www.w3.org/2000/svg';
var OVERVIEW = 1200;

function el(tag, attrs, parent, text) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function sel(tag, attrs, parent, text) {
  var e = document.createElementNS(SVGNS, tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function fmtCount(n) {
  if (n === null || n === undefined) return '?';
  var u = [['G', 1e9], ['M', 1e6], ['K', 1e3]];
  for (var i = 0; i < 3; i++) if (Math.abs(n) >= u[i][1]) return (n / u[i][1]).toPrecision(3).replace(/\.?0+$/, '') + u[i][0];
  return String(n);
}
function fmtBytes(n) {
  if (n === null || n === undefined) return '?';
  var u = [['GiB', 1073741824], ['MiB', 1048576], ['KiB', 1024]];
  for (var i = 0; i < 3; i++) if (n >= u[i][1]) return (n / u[i][1]).toPrecision(3).replace(/\.?0+$/, '') + ' ' + u[i][0];
  return n + ' B';
}
function num(n) { return n === null || n === undefined ? '?' : n.toLocaleString('en-US'); }
function frame() { return new Promise(function (r) { requestAnimationFrame(function () { r(); }); }); }

function Viewer(root, D) {
  var self = this;
  this.root = root; this.D = D;
  var nodes = D.nodes, values = D.values, nss = D.namespaces;
  this.rankdir = D.rankdir;
  // namespace depth and the namespace of every base box
  var nsDepth = nss.map(function (ns) { return ns[0] ? ns[0].split('/').length : 0; });
  this.nsByName = {};
  nss.forEach(function (ns, i) { self.nsByName[ns[0]] = i; });
  this.expanded = new Uint8Array(nss.length);
  this.expanded[0] = 1;
  var depth = D.depth;
  for (var i = 1; i < nss.length; i++) if (depth === null || nsDepth[i] <= depth) this.expanded[i] = 1;
  this.nsDepth = nsDepth;
  this.cache = {};
  this.layoutId = 0;
  this.pending = {};
  this.scale = 1; this.tx = 0; this.ty = 0;
  this.matches = []; this.matchAt = -1; this.selected = -1;
  this.buildDom();
  this.startWorker();
}

Viewer.prototype.startWorker = function () {
  var self = this;
  try {
    var src = '(' + layoutModule.toString() + ')()';
    var url = URL.createObjectURL(new Blob([src], {type: 'text/javascript'}));
    this.worker = new Worker(url);
    this.worker.onmessage = function (e) {
      var p = self.pending[e.data.id];
      delete self.pending[e.data.id];
      if (p) p.resolve(e.data.res);
    };
    this.worker.onerror = function () {  // e.g. a sandbox without workers: lay out here
      self.worker = null;
      for (var id in self.pending) { var p = self.pending[id]; p.resolve(layoutSync(p.req)); }
      self.pending = {};
    };
  } catch (err) { this.worker = null; }
};

Viewer.prototype.runLayout = function (req) {
  var self = this;
  if (!this.worker) return Promise.resolve(layoutSync(req));
  return new Promise(function (resolve) {
    var id = ++self.layoutId;
    self.pending[id] = {resolve: resolve, req: req};
    self.worker.postMessage({id: id, req: req});
  });
};

/* ---- the visible view: base boxes folded into groups by the expansion state ---------- */
Viewer.prototype.stateKey = function () {
  var k = [];
  for (var i = 1; i < this.expanded.length; i++) if (this.expanded[i]) k.push(i);
  return this.rankdir + ':' + k.join(',');
};

Viewer.prototype.buildView = function () {
  var D = this.D, nodes = D.nodes, nss = D.namespaces, exp = this.expanded;
  var top = new Int32Array(nss.length);  // the collapsed namespace a namespace folds into, or -1
  for (var i = 0; i < nss.length; i++) {
    var p = nss[i][1];
    top[i] = i === 0 ? -1 : (p >= 0 && top[p] >= 0) ? top[p] : (exp[i] ? -1 : i);
  }
  var count = new Int32Array(nss.length);
  D.boxes.forEach(function (b) { if (b[0] === 'node') { var t = top[nodes[b[1]][4]]; if (t >= 0) count[t]++; } });
  var boxes = [], boxOf = new Int32Array(D.boxes.length), groupBox = {};
  D.boxes.forEach(function (b, bi) {
    var t = b[0] === 'node' ? top[nodes[b[1]][4]] : -1;
    if (t >= 0 && count[t] > 1) {
      var g = groupBox[t];
      if (g === undefined) {
        g = groupBox[t] = boxes.length;
        boxes.push({kind: 'group', ns: t, members: [], ord: bi, id: 'g:' + nss[t][0]});
      }
      boxes[g].members.push(b[1]);
      boxOf[bi] = g;
    } else {
      boxOf[bi] = boxes.length;
      boxes.push({kind: b[0], ref: b[1], ord: bi,
                  id: (b[0] === 'node' ? 'n:' : b[0] === 'input' ? 'in:' : 'out:') +
                      (b[0] === 'node' ? nodes[b[1]][0] : D.values[b[1]][0])});
    }
  });
  var edges = [], seen = new Map();
  D.edges.forEach(function (e) {
    var s = boxOf[e[0]], d = boxOf[e[1]];
    if (s === d) return;
    var key = s * boxes.length + d;
    var at = seen.get(key);
    if (at === undefined) { seen.set(key, edges.length); edges.push({s: s, d: d, v: e[2], n: 1}); }
    else edges[at].n++;
  });
  var self = this;
  boxes.forEach(function (b) { self.boxLines(b); });
  var fr = this.frameTree(boxes, top);
  return {boxes: boxes, edges: edges, frames: fr.frames, parent: fr.parent};
};

// frames: the expanded namespaces with at least two visible boxes under them; each box's
// and frame's parent frame (-1: the top level); each frame's cache key (its namespace and
// the expanded namespaces below it: what its own layout depends on)
Viewer.prototype.frameTree = function (boxes, top) {
  var D = this.D, nodes = D.nodes, nss = D.namespaces, under = new Int32Array(nss.length);
  function home(b) { return b.kind === 'node' ? nodes[b.ref][4] : b.kind === 'group' ? nss[b.ns][1] : 0; }
  boxes.forEach(function (b) { for (var a = home(b); a > 0; a = nss[a][1]) if (top[a] < 0) under[a]++; });
  var frameOf = new Int32Array(nss.length).fill(-1), frames = [];
  for (var j = 1; j < nss.length; j++) if (top[j] < 0 && under[j] > 1) {
    frameOf[j] = frames.length;
    frames.push({ns: j, boxes: [], keys: [j]});
  }
  function up(a) { for (; a > 0; a = nss[a][1]) if (frameOf[a] >= 0) return frameOf[a]; return -1; }
  frames.forEach(function (f) { f.parent = up(nss[f.ns][1]); });
  for (j = 1; j < nss.length; j++) if (top[j] < 0) {
    for (var f = up(nss[j][1]); f >= 0; f = frames[f].parent) frames[f].keys.push(j);
  }
  var parent = boxes.map(function (b, i) {
    var p = up(home(b));
    for (var q = p; q >= 0; q = frames[q].parent) frames[q].boxes.push(i);
    return p;
  });
  frames.forEach(function (f) {
    f.key = f.keys.join(',');
    f.minW = Math.min(6 * (nss[f.ns][0].length + 2) + 16, 600);
    delete f.keys;
  });
  return {frames: frames, parent: parent};
};

Viewer.prototype.boxLines = function (b) {
  var D = this.D, lines;
  if (b.kind === 'group') {
    var params = 0;
    b.members.forEach(function (k) { params += D.nodes[k][9] || 0; });
    var ns = D.namespaces[b.ns][0];
    b.title = ns.length > 34 ? '\u2026' + ns.slice(ns.length - 33) : ns;
    lines = ['\u25B8 ' + b.title, b.members.length + ' ops \u00B7 ' + fmtCount(params) + ' params'];
  } else if (b.kind === 'node') {
    var nd = D.nodes[b.ref];
    lines = [nd[2] ? nd[1] + ' (' + nd[2] + ')' : nd[1]].concat(nd[5]);
  } else {
    var v = D.values[b.ref];
    lines = [v[0], v[2]];
  }
  b.lines = lines;
  var w = 0;
  lines.forEach(function (s, i) { w = Math.max(w, s.length * (i ? 6 : 6.8)); });
  b.w = Math.min(Math.max(60, w + 16), 280);
  b.h = 8 + 14 * lines.length;
};

Viewer.prototype.styleOf = function (b) {
  var P = this.D.palette;
  if (b.kind === 'node') return P[this.D.categories[this.D.nodes[b.ref][3]]] || P.custom;
  return P[b.kind] || P.custom;
};

/* ---- DOM ---------------------------------------------------------------------------- */
Viewer.prototype.buildDom = function () {
  var self = this, root = this.root;
  var bar = el('div', {'class': 'gs-bar'}, root);
  el('span', {'class': 'gs-title', title: this.D.name}, bar, this.D.name);
  this.searchBox = el('input', {type: 'search', placeholder: 'search name, op, attribute', 'aria-label': 'search'}, bar);
  var prev = el('button', {title: 'previous match (Shift+Enter)'}, bar, '\u25B2');
  var next = el('button', {title: 'next match (Enter)'}, bar, '\u25BC');
  this.countEl = el('span', {'class': 'gs-count'}, bar, '');
  var fit = el('button', {title: 'fit to screen (0)'}, bar, 'Fit');
  var zin = el('button', {title: 'zoom in (+)'}, bar, '+');
  var zout = el('button', {title: 'zoom out (-)'}, bar, '\u2212');
  var tbl = el('button', {title: 'per-layer table'}, bar, 'Table');
  var theme = el('button', {title: 'light / dark'}, bar, 'Theme');
  var svgB = el('button', {title: 'export the view as SVG'}, bar, 'SVG');
  var pngB = el('button', {title: 'export the view as PNG'}, bar, 'PNG');
  var main = el('div', {'class': 'gs-main'}, root);
  this.canvas = el('div', {'class': 'gs-canvas'}, main);
  this.side = el('div', {'class': 'gs-side'}, main);
  this.table = el('div', {'class': 'gs-table'}, root);
  this.busy = el('div', {'class': 'gs-busy'}, this.canvas, 'laying out\u2026');
  this.svg = sel('svg', {'class': 'gs-svg'}, this.canvas);
  var defs = sel('defs', null, this.svg);
  var mk = sel('marker', {id: 'gs-arrow-' + (Viewer.count = (Viewer.count || 0) + 1), viewBox: '0 0 8 8', refX: '8', refY: '4',
                          markerWidth: '7', markerHeight: '7', orient: 'auto'}, defs);
  this.arrowId = mk.getAttribute('id');
  sel('path', {d: 'M0,0L8,4L0,8z', fill: 'var(--edge)'}, mk);
  this.vp = sel('g', null, this.svg);
  this.gFrames = sel('g', null, this.vp);
  this.gEdges = sel('path', {'class': 'gs-edges', 'marker-end': 'url(#' + this.arrowId + ')'}, this.vp);
  this.gLabels = sel('g', null, this.vp);
  this.gBoxes = sel('g', null, this.vp);
  // past OVERVIEW boxes on screen, boxes and edges are painted on a canvas instead of SVG
  this.over = el('canvas', {'class': 'gs-over'}, this.canvas);
  this.mini = el('canvas', {'class': 'gs-mini', width: '180', height: '140'}, this.canvas);

  this.searchBox.addEventListener('input', function () { self.runSearch(self.searchBox.value); });
  this.searchBox.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); self.step(e.shiftKey ? -1 : 1); }
    e.stopPropagation();
  });
  prev.onclick = function () { self.step(-1); };
  next.onclick = function () { self.step(1); };
  fit.onclick = function () { self.fit(); };
  zin.onclick = function () { self.zoomAt(1.25); };
  zout.onclick = function () { self.zoomAt(0.8); };
  tbl.onclick = function () { self.toggleTable(); };
  theme.onclick = function () { root.classList.toggle('gs-dark'); root.classList.toggle('gs-light'); self.drawMini(); };
  svgB.onclick = function () { self.download(self.exportSvg(), 'image/svg+xml', '.svg'); };
  pngB.onclick = function () { self.exportPng(); };

  // pan (drag), zoom (wheel), click
  var drag = null;
  this.canvas.addEventListener('pointerdown', function (e) {
    drag = {x: e.clientX, y: e.clientY, tx: self.tx, ty: self.ty, moved: false};
    self.canvas.classList.add('gs-drag');
  });
  window.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { self.tx = drag.tx + dx; self.ty = drag.ty + dy; self.schedule(); }
  });
  window.addEventListener('pointerup', function (e) {
    if (!drag) return;
    var moved = drag.moved;
    drag = null;
    self.canvas.classList.remove('gs-drag');
    if (!moved) self.clickAt(e.target, e);
  });
  this.canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    var r = self.svg.getBoundingClientRect();
    self.zoomAt(Math.exp(-e.deltaY * (e.ctrlKey ? 0.01 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  root.addEventListener('keydown', function (e) {
    var k = e.key, step = 60;
    if (k === '+' || k === '=') self.zoomAt(1.25);
    else if (k === '-') self.zoomAt(0.8);
    else if (k === '0') self.fit();
    else if (k === 'ArrowLeft') { self.tx += step; self.schedule(); }
    else if (k === 'ArrowRight') { self.tx -= step; self.schedule(); }
    else if (k === 'ArrowUp') { self.ty += step; self.schedule(); }
    else if (k === 'ArrowDown') { self.ty -= step; self.schedule(); }
    else if (k === '/') { self.searchBox.focus(); }
    else return;
    e.preventDefault();
  });
  var miniDrag = false;
  function miniPan(e) {
    var m = self.miniMap;
    if (!m) return;
    var r = self.mini.getBoundingClientRect();
    var gx = (e.clientX - r.left - m.ox) / m.s + m.x0, gy = (e.clientY - r.top - m.oy) / m.s + m.y0;
    self.centerOn(gx, gy);
  }
  this.mini.addEventListener('pointerdown', function (e) { e.stopPropagation(); miniDrag = true; miniPan(e); });
  this.mini.addEventListener('pointermove', function (e) { if (miniDrag) miniPan(e); });
  window.addEventListener('pointerup', function () { miniDrag = false; });
  new ResizeObserver(function () { self.schedule(); }).observe(this.canvas);
};

Viewer.prototype.clickAt = function (target, e) {
  if (!this.cur) return;
  var g = target.closest ? target.closest('[data-box],[data-frame]') : null, i = -1;
  if (this.overview) i = this.hit(e);
  else if (g && g.hasAttribute('data-frame')) { this.collapse(this.D.namespaces[+g.getAttribute('data-frame')][0]); return; }
  else if (g) i = +g.getAttribute('data-box');
  if (i < 0) return;
  var b = this.cur.view.boxes[i];
  if (b.kind === 'group') this.expand(this.D.namespaces[b.ns][0]);
  else if (b.kind === 'node') this.select(this.D.nodes[b.ref][0]);
};

Viewer.prototype.hit = function (e) {  // the box under the pointer, in overview mode
  var r = this.svg.getBoundingClientRect(), bs = this.cur.view.boxes, P = this.pos;
  var gx = (e.clientX - r.left - this.tx) / this.scale, gy = (e.clientY - r.top - this.ty) / this.scale;
  var slack = 3 / this.scale, best = -1, bestD = Infinity;
  for (var i = 0; i < bs.length; i++) {  // the nearest box within a few pixels
    var dx = Math.max(0, Math.abs(gx - P.x[i]) - bs[i].w / 2), dy = Math.max(0, Math.abs(gy - P.y[i]) - bs[i].h / 2);
    var d = dx + dy + 1e-9 * (Math.abs(gx - P.x[i]) + Math.abs(gy - P.y[i]));
    if (dx <= slack && dy <= slack && d < bestD) { best = i; bestD = d; }
  }
  return best;
};

/* ---- showing a state: layout (cached) then draw ------------------------------------- */
Viewer.prototype.show = function (anchor) {
  var self = this, key = this.stateKey(), cached = this.cache[key];
  var view = cached ? cached.view : this.buildView();
  var req = null;
  if (!cached) {
    req = {rankdir: this.rankdir,
           w: view.boxes.map(function (b) { return b.w; }), h: view.boxes.map(function (b) { return b.h; }),
           ord: view.boxes.map(function (b) { return b.ord; }), parent: view.parent,
           frames: {parent: view.frames.map(function (f) { return f.parent; }),
                    key: view.frames.map(function (f) { return f.key; }),
                    minW: view.frames.map(function (f) { return f.minW; })},
           edges: view.edges.map(function (e) { return [e.s, e.d, e.v]; })};
    this.busy.style.display = 'block';
  }
  var got = cached ? Promise.resolve(cached.lay) : this.runLayout(req);
  var ticket = this.ticket = (this.ticket || 0) + 1;
  return got.then(function (lay) {
    self.busy.style.display = 'none';
    if (!cached) self.cache[key] = {view: view, lay: lay};
    if (ticket !== self.ticket) return;  // a newer request superseded this one
    var old = self.cur;
    self.cur = {view: view, lay: lay, index: {}};
    view.boxes.forEach(function (b, i) { self.cur.index[b.id] = i; });
    self.computeFrames();
    self.els = {};
    while (self.gBoxes.firstChild) self.gBoxes.removeChild(self.gBoxes.firstChild);
    if (anchor && old) self.keepAnchor(old, anchor);
    else if (!old) self.fit(true);
    self.markMatches();
    return self.animateFrom(old, anchor);
  });
};

// keep the boxes that were on screen where they were: shift the new layout so that the
// anchor (the group just expanded, or the boxes that stay) does not move on screen
Viewer.prototype.keepAnchor = function (old, anchor) {
  var ol = old.lay, nl = this.cur.lay, ov = old.view, nv = this.cur.view;
  var ox = 0, oy = 0, nx = 0, ny = 0, cnt = 0, self = this;
  var oi = old.index[anchor.id];
  if (anchor.kind === 'expand' && oi !== undefined) {
    // the expanded group's content starts where the group was (its top edge for TB, its left
    // edge for LR ...) and is centred on it across the ranks: what came before stays put
    var prefix = anchor.id.slice(2) + '/', bb = [1e18, 1e18, -1e18, -1e18];
    nv.boxes.forEach(function (b, i) {
      var name = b.kind === 'group' ? self.D.namespaces[b.ns][0] + '/' : b.kind === 'node' ? self.D.namespaces[self.D.nodes[b.ref][4]][0] + '/' : '';
      if (name.slice(0, prefix.length) !== prefix) return;
      bb[0] = Math.min(bb[0], nl.x[i] - b.w / 2); bb[2] = Math.max(bb[2], nl.x[i] + b.w / 2);
      bb[1] = Math.min(bb[1], nl.y[i] - b.h / 2); bb[3] = Math.max(bb[3], nl.y[i] + b.h / 2);
      cnt++;
    });
    var fi = this.nsByName[anchor.id.slice(2)];  // the frame that now stands for the group
    this.cur.view.frames.forEach(function (f, k) {
      if (f.ns !== fi) return;
      var r = nl.frames[k];
      bb = [r[0], r[1], r[0] + r[2], r[1] + r[3]];
      cnt++;
    });
    if (!cnt) return;
    var ob = ov.boxes[oi], rd = this.rankdir;
    ox = rd === 'LR' ? ol.x[oi] - ob.w / 2 : rd === 'RL' ? ol.x[oi] + ob.w / 2 : ol.x[oi];
    oy = rd === 'TB' ? ol.y[oi] - ob.h / 2 : rd === 'BT' ? ol.y[oi] + ob.h / 2 : ol.y[oi];
    nx = rd === 'LR' ? bb[0] : rd === 'RL' ? bb[2] : (bb[0] + bb[2]) / 2;
    ny = rd === 'TB' ? bb[1] : rd === 'BT' ? bb[3] : (bb[1] + bb[3]) / 2;
  } else {
    nv.boxes.forEach(function (b, i) {
      var j = old.index[b.id];
      if (j !== undefined) { ox += ol.x[j]; oy += ol.y[j]; nx += nl.x[i]; ny += nl.y[i]; cnt++; }
    });
    if (!cnt) return;
    ox /= cnt; oy /= cnt; nx /= cnt; ny /= cnt;
  }
  this.tx += (ox - nx) * this.scale;
  this.ty += (oy - ny) * this.scale;
};

Viewer.prototype.animateFrom = function (old, anchor) {
  var self = this, cur = this.cur, n = cur.view.boxes.length;
  this.pos = {x: Float64Array.from(cur.lay.x), y: Float64Array.from(cur.lay.y)};
  if (!old || n > 1500) { this.draw(); return frame(); }
  var sx = new Float64Array(n), sy = new Float64Array(n), origin = null;
  if (anchor) { var ai = old.index[anchor.id]; if (ai !== undefined) origin = [old.lay.x[ai], old.lay.y[ai]]; }
  cur.view.boxes.forEach(function (b, i) {
    var j = old.index[b.id];
    var at = j !== undefined ? [old.lay.x[j], old.lay.y[j]] : origin || [cur.lay.x[i], cur.lay.y[i]];
    sx[i] = at[0]; sy[i] = at[1];
  });
  var t0 = performance.now(), dur = 220;
  return new Promise(function (resolve) {
    function tick() {
      var t = Math.min(1, (performance.now() - t0) / dur), e = t * (2 - t);
      for (var i = 0; i < n; i++) {
        self.pos.x[i] = sx[i] + (cur.lay.x[i] - sx[i]) * e;
        self.pos.y[i] = sy[i] + (cur.lay.y[i] - sy[i]) * e;
      }
      self.animating = t < 1;
      self.draw();
      if (t < 1) requestAnimationFrame(tick); else frame().then(resolve);
    }
    tick();
  });
};

Viewer.prototype.computeFrames = function () {
  // the frames of expanded namespaces, from the layout; drawn behind the boxes, click collapses
  var lay = this.cur.lay;
  this.cur.frames = this.cur.view.frames.map(function (f, k) {
    return {ns: f.ns, boxes: f.boxes, rect: lay.frames[k]};
  });
};

Viewer.prototype.frameRect = function (f) {  // [x0, y0, x1, y1]
  if (!this.animating) return [f.rect[0], f.rect[1], f.rect[0] + f.rect[2], f.rect[1] + f.rect[3]];
  var x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18, bs = this.cur.view.boxes, p = this.pos;
  f.boxes.forEach(function (i) {  // while moving: around the boxes where they are now
    x0 = Math.min(x0, p.x[i] - bs[i].w / 2); x1 = Math.max(x1, p.x[i] + bs[i].w / 2);
    y0 = Math.min(y0, p.y[i] - bs[i].h / 2); y1 = Math.max(y1, p.y[i] + bs[i].h / 2);
  });
  return [x0 - 10, y0 - 20, x1 + 10, y1 + 10];
};

/* ---- drawing: only what is in the viewport ------------------------------------------ */
Viewer.prototype.schedule = function () {
  var self = this;
  if (this.queued) return;
  this.queued = true;
  requestAnimationFrame(function () { self.queued = false; self.draw(); });
};

Viewer.prototype.viewport = function () {
  var w = this.canvas.clientWidth || 800, h = this.canvas.clientHeight || 600, m = 80 / this.scale;
  return [-this.tx / this.scale - m, -this.ty / this.scale - m, (w - this.tx) / this.scale + m, (h - this.ty) / this.scale + m];
};

Viewer.prototype.draw = function () {
  if (!this.cur) return;
  this.vp.setAttribute('transform', 'translate(' + this.tx + ',' + this.ty + ') scale(' + this.scale + ')');
  var self = this, cur = this.cur, bs = cur.view.boxes, P = this.pos, vp = this.viewport();
  var inView = new Uint8Array(bs.length), detail = this.scale > 0.35;
  for (var i = 0; i < bs.length; i++) {
    var b = bs[i];
    if (P.x[i] + b.w / 2 >= vp[0] && P.x[i] - b.w / 2 <= vp[2] && P.y[i] + b.h / 2 >= vp[1] && P.y[i] - b.h / 2 <= vp[3]) inView[i] = 1;
  }
  var shown = 0;
  for (i = 0; i < bs.length; i++) shown += inView[i];
  this.overview = shown > OVERVIEW;
  this.over.style.display = this.overview ? 'block' : 'none';
  this.svg.style.visibility = this.overview ? 'hidden' : 'visible';
  if (this.overview) { this.drawOverview(inView); this.drawMini(); return; }
  // boxes: keep the elements of those still in view, add the new ones
  var keep = {};
  for (i = 0; i < bs.length; i++) if (inView[i]) {
    var e = this.els[i];
    if (!e || e.detail !== detail) {
      if (e) e.g.remove();
      e = this.els[i] = {g: this.boxEl(i, detail), detail: detail};
      this.gBoxes.appendChild(e.g);
    }
    e.g.setAttribute('transform', 'translate(' + (P.x[i] - bs[i].w / 2) + ',' + (P.y[i] - bs[i].h / 2) + ')');
    keep[i] = 1;
  }
  for (var k in this.els) if (!keep[k]) { this.els[k].g.remove(); delete this.els[k]; }
  // edges: one path for all in view; straight while animating, routed once settled
  var d = [], lbl = [], paths = cur.lay.paths;
  cur.view.edges.forEach(function (ed, j) {
    if (!inView[ed.s] && !inView[ed.d]) {
      var pts = paths[j], any = false;
      for (var q = 0; q < pts.length && !any; q += 2) any = pts[q] >= vp[0] && pts[q] <= vp[2] && pts[q + 1] >= vp[1] && pts[q + 1] <= vp[3];
      if (!any) return;
    }
    var s = self.endpoints(ed, j);
    d.push(s.d);
    if (detail && lbl.length < 3000) lbl.push([s.lx, s.ly, self.D.values[ed.v][2] + (ed.n > 1 ? ' (+' + (ed.n - 1) + ')' : '')]);
  });
  this.gEdges.setAttribute('d', d.join(''));
  while (this.gLabels.firstChild) this.gLabels.removeChild(this.gLabels.firstChild);
  lbl.forEach(function (l) { sel('text', {x: l[0] + 4, y: l[1], 'class': 'gs-elabel'}, self.gLabels, l[2]); });
  // frames of expanded namespaces
  while (this.gFrames.firstChild) this.gFrames.removeChild(this.gFrames.firstChild);
  cur.frames.forEach(function (f) {
    var r = self.frameRect(f);
    if (r[2] < vp[0] || r[0] > vp[2] || r[3] < vp[1] || r[1] > vp[3]) return;
    var g = sel('g', {'class': 'gs-frame', 'data-frame': f.ns}, self.gFrames);
    sel('rect', {x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1], rx: 6}, g);
    var t = sel('text', {x: r[0] + 6, y: r[1] + 12}, g, '\u25BE ' + self.D.namespaces[f.ns][0]);
    sel('title', null, t, 'collapse ' + self.D.namespaces[f.ns][0]);
  });
  this.drawMini();
};

Viewer.prototype.drawOverview = function (inView) {
  var c = this.over, dpr = window.devicePixelRatio || 1, W = this.canvas.clientWidth, H = this.canvas.clientHeight;
  if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
    c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
    c.style.width = W + 'px'; c.style.height = H + 'px';
  }
  var ctx = c.getContext('2d'), bs = this.cur.view.boxes, P = this.pos, i;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
  ctx.strokeStyle = getComputedStyle(this.root).getPropertyValue('--edge') || '#666';
  ctx.lineWidth = 1 / this.scale;
  ctx.beginPath();
  this.cur.view.edges.forEach(function (ed) {
    if (!inView[ed.s] && !inView[ed.d]) return;
    ctx.moveTo(P.x[ed.s], P.y[ed.s]); ctx.lineTo(P.x[ed.d], P.y[ed.d]);
  });
  ctx.stroke();
  for (i = 0; i < bs.length; i++) if (inView[i]) {
    var st = this.styleOf(bs[i]);
    ctx.fillStyle = this.matchBoxes && this.matchBoxes[i] ? '#ff9800' : st[0];
    ctx.fillRect(P.x[i] - bs[i].w / 2, P.y[i] - bs[i].h / 2, bs[i].w, bs[i].h);
  }
};

Viewer.prototype.endpoints = function (ed, j) {
  var P = this.pos, bs = this.cur.view.boxes, pts = this.cur.lay.paths[j];
  var sx = P.x[ed.s], sy = P.y[ed.s], dx = P.x[ed.d], dy = P.y[ed.d];
  var horiz = this.rankdir === 'LR' || this.rankdir === 'RL';
  var sgn = (horiz ? dx - sx : dy - sy) >= 0 ? 1 : -1;
  var a, b;
  if (horiz) { a = [sx + sgn * bs[ed.s].w / 2, sy]; b = [dx - sgn * bs[ed.d].w / 2, dy]; }
  else { a = [sx, sy + sgn * bs[ed.s].h / 2]; b = [dx, dy - sgn * bs[ed.d].h / 2]; }
  var all = [a, b], q;
  if (!this.animating && pts.length >= 4) {  // the routed polyline, border to border
    all = [];
    for (q = 0; q + 1 < pts.length; q += 2) all.push([pts[q], pts[q + 1]]);
    a = all[0]; b = all[all.length - 1];
  }
  var s = 'M' + a[0].toFixed(1) + ',' + a[1].toFixed(1);
  if (all.length === 2) s += 'L' + b[0].toFixed(1) + ',' + b[1].toFixed(1);
  else for (q = 1; q < all.length; q++) {  // smooth through the bends, straight along a rank
    var p0 = all[q - 1], p1 = all[q];
    if (horiz ? p0[1] === p1[1] : p0[0] === p1[0]) { s += 'L' + p1[0].toFixed(1) + ',' + p1[1].toFixed(1); continue; }
    var c = horiz ? ['C', (p0[0] + p1[0]) / 2, p0[1], (p0[0] + p1[0]) / 2, p1[1]] : ['C', p0[0], (p0[1] + p1[1]) / 2, p1[0], (p0[1] + p1[1]) / 2];
    s += c[0] + c[1].toFixed(1) + ',' + c[2].toFixed(1) + ' ' + c[3].toFixed(1) + ',' + c[4].toFixed(1) + ' ' + p1[0].toFixed(1) + ',' + p1[1].toFixed(1);
  }
  var m = all[Math.floor((all.length - 1) / 2)], m2 = all[Math.floor((all.length - 1) / 2) + 1];
  return {d: s, lx: (m[0] + m2[0]) / 2, ly: (m[1] + m2[1]) / 2};
};

Viewer.prototype.boxEl = function (i, detail) {
  var b = this.cur.view.boxes[i], st = this.styleOf(b);
  var g = sel('g', {'class': 'gs-box', 'data-box': i, 'data-id': b.id});
  if (b.kind === 'input' || b.kind === 'output') sel('ellipse', {cx: b.w / 2, cy: b.h / 2, rx: b.w / 2, ry: b.h / 2, fill: st[0], stroke: st[1]}, g);
  else {
    if (b.kind === 'group') sel('rect', {x: 3, y: 3, width: b.w, height: b.h, rx: 4, fill: st[0], stroke: st[1], opacity: 0.6}, g);
    sel('rect', {width: b.w, height: b.h, rx: 4, fill: st[0], stroke: st[1]}, g);
  }
  if (detail) b.lines.forEach(function (line, k) {
    var t = sel('text', {x: b.w / 2, y: 16 + 14 * k, 'text-anchor': 'middle', fill: st[2],
                         'font-size': k ? 10 : 11, 'font-weight': k ? 'normal' : 'bold'}, g,
                line.length > 44 ? line.slice(0, 43) + '\u2026' : line);
  });
  sel('title', null, g, this.tooltip(b));
  if (this.matchBoxes && this.matchBoxes[i]) g.classList.add('gs-match');
  if (b.kind === 'node' && b.ref === this.selected) g.classList.add('gs-selected');
  return g;
};

Viewer.prototype.tooltip = function (b) {
  var D = this.D;
  if (b.kind === 'group') return 'group: ' + D.namespaces[b.ns][0] + '\n' + b.members.length + ' ops (click to expand)';
  if (b.kind !== 'node') return b.kind + ': ' + D.values[b.ref][0] + '\n' + D.values[b.ref][1] + '[' + D.values[b.ref][2] + ']';
  var nd = D.nodes[b.ref], lines = [nd[1] + ': ' + nd[0]];
  if (D.namespaces[nd[4]][0]) lines.push('namespace: ' + D.namespaces[nd[4]][0]);
  nd[6].forEach(function (a) { lines.push('  ' + a[0] + ' = ' + a[1]); });
  lines.push('params: ' + num(nd[9]) + '  MACs: ' + num(nd[10]));
  return lines.join('\n');
};

/* ---- view control ------------------------------------------------------------------- */
Viewer.prototype.bounds = function () {
  var bs = this.cur.view.boxes, P = this.pos || this.cur.lay, x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
  for (var i = 0; i < bs.length; i++) {
    x0 = Math.min(x0, P.x[i] - bs[i].w / 2); x1 = Math.max(x1, P.x[i] + bs[i].w / 2);
    y0 = Math.min(y0, P.y[i] - bs[i].h / 2); y1 = Math.max(y1, P.y[i] + bs[i].h / 2);
  }
  (this.cur.lay.frames || []).forEach(function (r) {
    x0 = Math.min(x0, r[0]); y0 = Math.min(y0, r[1]); x1 = Math.max(x1, r[0] + r[2]); y1 = Math.max(y1, r[1] + r[3]);
  });
  return bs.length ? [x0, y0, x1, y1] : [0, 0, 1, 1];
};

Viewer.prototype.fit = function (initial) {
  var b = this.bounds(), w = this.canvas.clientWidth || 800, h = this.canvas.clientHeight || 600;
  var s = Math.min((w - 40) / (b[2] - b[0]), (h - 40) / (b[3] - b[1]), 1.5);
  if (initial) s = Math.max(s, 0.6);  // a first view stays readable; the user zooms out
  this.scale = s;
  this.tx = w / 2 - (b[0] + b[2]) / 2 * s;
  this.ty = (b[3] - b[1]) * s > h - 40 && (this.rankdir === 'TB' || this.rankdir === 'LR' || this.rankdir === 'RL') ? 20 - b[1] * s : h / 2 - (b[1] + b[3]) / 2 * s;
  if (initial && (b[2] - b[0]) * s > w - 40 && (this.rankdir === 'LR')) this.tx = 20 - b[0] * s;
  this.schedule();
};

Viewer.prototype.zoomAt = function (f, cx, cy) {
  var w = this.canvas.clientWidth, h = this.canvas.clientHeight;
  if (cx === undefined) { cx = w / 2; cy = h / 2; }
  var s = Math.max(0.01, Math.min(4, this.scale * f));
  this.tx = cx - (cx - this.tx) * s / this.scale;
  this.ty = cy - (cy - this.ty) * s / this.scale;
  this.scale = s;
  this.schedule();
};

Viewer.prototype.centerOn = function (x, y) {
  this.tx = this.canvas.clientWidth / 2 - x * this.scale;
  this.ty = this.canvas.clientHeight / 2 - y * this.scale;
  this.schedule();
};

Viewer.prototype.drawMini = function () {
  var cur = this.cur, bs = cur ? cur.view.boxes : [];
  if (!cur || bs.length < 40) { this.mini.style.display = 'none'; this.miniMap = null; return; }
  this.mini.style.display = 'block';
  var c = this.mini.getContext('2d'), W = this.mini.width, H = this.mini.height, b = this.bounds();
  var s = Math.min((W - 8) / (b[2] - b[0]), (H - 8) / (b[3] - b[1]));
  var m = this.miniMap = {s: s, x0: b[0], y0: b[1], ox: (W - (b[2] - b[0]) * s) / 2, oy: (H - (b[3] - b[1]) * s) / 2};
  c.clearRect(0, 0, W, H);
  var P = this.pos;
  for (var i = 0; i < bs.length; i++) {
    c.fillStyle = this.styleOf(bs[i])[0];
    c.fillRect(m.ox + (P.x[i] - bs[i].w / 2 - b[0]) * s, m.oy + (P.y[i] - bs[i].h / 2 - b[1]) * s,
               Math.max(1, bs[i].w * s), Math.max(1, bs[i].h * s));
  }
  var v = this.viewport(), pad = 80 / this.scale;
  c.strokeStyle = '#e91e63'; c.lineWidth = 1.5;
  c.strokeRect(m.ox + (v[0] + pad - b[0]) * s, m.oy + (v[1] + pad - b[1]) * s, (v[2] - v[0] - 2 * pad) * s, (v[3] - v[1] - 2 * pad) * s);
};

Viewer.prototype.nsIndex = function (name) {
  name = String(name).replace(/^\/+|\/+$/g, '');
  var i = this.nsByName[name];
  if (i === undefined) throw new Error('graphscope: no namespace ' + JSON.stringify(name));
  return i;
};

Viewer.prototype.expand = function (name) {
  var i = this.nsIndex(name), was = this.boxIdOf(i);
  for (var j = i; j > 0; j = this.D.namespaces[j][1]) this.expanded[j] = 1;
  return this.show({kind: 'expand', id: was});
};

Viewer.prototype.collapse = function (name) {
  var i = this.nsIndex(name), nss = this.D.namespaces;
  for (var j = 1; j < nss.length; j++) {  // the namespace and everything under it
    for (var a = j; a > 0; a = nss[a][1]) if (a === i) { this.expanded[j] = 0; break; }
  }
  return this.show({kind: 'collapse', id: 'g:' + nss[i][0]});
};

// the id of the box that now shows namespace i (the group it folds into)
Viewer.prototype.boxIdOf = function (i) {
  var chain = [], nss = this.D.namespaces;
  for (var j = i; j > 0; j = nss[j][1]) chain.unshift(j);
  for (var k = 0; k < chain.length; k++) if (!this.expanded[chain[k]]) return 'g:' + nss[chain[k]][0];
  return 'g:' + nss[i][0];
};

Viewer.prototype.visibleNodes = function () {
  var D = this.D;
  return this.cur.view.boxes.filter(function (b) { return b.kind === 'node' || b.kind === 'group'; })
    .map(function (b) { return b.kind === 'node' ? D.nodes[b.ref][0] : D.namespaces[b.ns][0]; });
};

// what is drawn, in layout coordinates (the test hook): {name: {x, y, w, h, kind}}, x and y
// the top-left corner; a name already taken (a node and a frame of one name) gets 'kind:'
Viewer.prototype.layoutBoxes = function () {
  var D = this.D, cur = this.cur, lay = cur.lay, out = {}, names = [];
  function put(name, kind, prefix, r, ns) {
    if (Object.prototype.hasOwnProperty.call(out, name)) name = prefix + ':' + name;
    out[name] = {x: r[0], y: r[1], w: r[2], h: r[3], kind: kind, ns: D.namespaces[ns][0]};
    return name;
  }
  cur.view.boxes.forEach(function (b, i) {
    var name = b.kind === 'node' ? D.nodes[b.ref][0] : b.kind === 'group' ? D.namespaces[b.ns][0] : D.values[b.ref][0];
    var ns = b.kind === 'node' ? D.nodes[b.ref][4] : b.kind === 'group' ? b.ns : 0;
    names.push(put(name, b.kind === 'group' ? 'group' : 'node', b.kind, [lay.x[i] - b.w / 2, lay.y[i] - b.h / 2, b.w, b.h], ns));
  });
  cur.view.frames.forEach(function (f, k) { put(D.namespaces[f.ns][0], 'frame', 'frame', lay.frames[k], f.ns); });
  this.boxNames = names;
  return out;
};

// every drawn edge: {from, to (names as in layoutBoxes), points: [[x, y], ...]}
Viewer.prototype.layoutEdges = function () {
  this.layoutBoxes();
  var names = this.boxNames, paths = this.cur.lay.paths;
  return this.cur.view.edges.map(function (e, j) {
    var pts = [];
    for (var q = 0; q + 1 < paths[j].length; q += 2) pts.push([paths[j][q], paths[j][q + 1]]);
    return {from: names[e.s], to: names[e.d], points: pts};
  });
};

/* ---- search ------------------------------------------------------------------------- */
Viewer.prototype.search = function (text) {
  var q = String(text).toLowerCase().trim(), D = this.D, out = [];
  if (!q) return out;
  D.nodes.forEach(function (nd, k) {
    var hit = nd[0].toLowerCase().indexOf(q) >= 0 || nd[1].toLowerCase().indexOf(q) >= 0 ||
              (nd[2] && nd[2].toLowerCase().indexOf(q) >= 0);
    for (var a = 0; !hit && a < nd[6].length; a++) {
      hit = (nd[6][a][0] + '=' + nd[6][a][1]).toLowerCase().indexOf(q) >= 0;
    }
    if (hit) out.push(k);
  });
  return out;
};

Viewer.prototype.runSearch = function (text) {
  this.matches = this.search(text);
  this.matchAt = -1;
  this.countEl.textContent = text ? this.matches.length + ' found' : '';
  this.markMatches();
  this.draw();
};

Viewer.prototype.markMatches = function () {
  if (!this.cur) return;
  var hit = {}, D = this.D, m = new Uint8Array(this.cur.view.boxes.length), self = this;
  this.matches.forEach(function (k) { hit[k] = 1; });
  this.cur.view.boxes.forEach(function (b, i) {
    if (b.kind === 'node') m[i] = hit[b.ref] ? 1 : 0;
    else if (b.kind === 'group') m[i] = b.members.some(function (k) { return hit[k]; }) ? 1 : 0;
  });
  this.matchBoxes = m;
  for (var i in this.els) this.els[i].g.classList.toggle('gs-match', !!m[i]);
};

Viewer.prototype.step = function (dir) {
  if (!this.matches.length) return Promise.resolve();
  this.matchAt = (this.matchAt + dir + this.matches.length) % this.matches.length;
  this.countEl.textContent = (this.matchAt + 1) + ' / ' + this.matches.length;
  return this.reveal(this.matches[this.matchAt]);
};

// expand what hides node k, centre on it and select it
Viewer.prototype.reveal = function (k) {
  var self = this, D = this.D, ns = D.nodes[k][4], need = false;
  for (var j = ns; j > 0; j = D.namespaces[j][1]) if (!this.expanded[j]) { need = true; this.expanded[j] = 1; }
  var shown = need ? this.show(null) : Promise.resolve();
  return shown.then(function () {
    var i = self.cur.index['n:' + D.nodes[k][0]];
    if (i === undefined) {  // a namespace of one op shows as the op itself
      self.cur.view.boxes.forEach(function (b, q) { if (b.kind === 'node' && b.ref === k) i = q; });
    }
    if (i !== undefined) self.centerOn(self.pos.x[i], self.pos.y[i]);
    self.openPanel(k);
    return frame();
  });
};

/* ---- side panel and table ----------------------------------------------------------- */
Viewer.prototype.select = function (name) {
  var D = this.D;
  for (var k = 0; k < D.nodes.length; k++) if (D.nodes[k][0] === name) return this.reveal(k);
  return Promise.reject(new Error('graphscope: no node ' + JSON.stringify(name)));
};

Viewer.prototype.openPanel = function (k) {
  var D = this.D, nd = D.nodes[k], side = this.side, self = this;
  this.selected = k;
  for (var i in this.els) {
    var b = this.cur.view.boxes[i];
    this.els[i].g.classList.toggle('gs-selected', b.kind === 'node' && b.ref === k);
  }
  while (side.firstChild) side.removeChild(side.firstChild);
  side.classList.add('gs-open');
  var close = el('button', {style: 'float:right', title: 'close'}, side, '\u00D7');
  close.onclick = function () { side.classList.remove('gs-open'); };
  el('h3', {'class': 'gs-node-name'}, side, nd[0]);
  function rows(title, list, cls) {
    el('h4', null, side, title);
    var t = el('table', {'class': cls || ''}, side);
    list.forEach(function (r) { var tr = el('tr', null, t); el('td', null, tr, r[0]); el('td', null, tr, r[1]); });
  }
  var ns = D.namespaces[nd[4]][0];
  rows('Node', [['type', nd[1]]].concat(nd[2] ? [['source op', nd[2]]] : [], [['name', nd[0]], ['namespace', ns || '(top level)']]), 'gs-facts');
  var framed = {};  // offer to collapse the innermost frame drawn around this node
  (this.cur.frames || []).forEach(function (f) { framed[f.ns] = 1; });
  for (var a = nd[4]; a > 0 && !framed[a]; a = D.namespaces[a][1]);
  if (a > 0) {
    var outer = D.namespaces[a][0];
    var coll = el('button', {title: 'collapse this namespace'}, side, 'collapse ' + outer);
    coll.onclick = function () { self.collapse(outer); };
  }
  if (nd[12]) rows('Documentation', [['doc', nd[12]]], 'gs-doc');
  rows('Attributes', nd[6].length ? nd[6] : [['', '(none)']], 'gs-attrs');
  function io(list) {
    return list.filter(function (v) { return v >= 0; }).map(function (v) {
      var val = D.values[v], kind = val[3] ? ' (weight)' : '';
      return [val[0] + kind, (val[1] || '?') + '[' + val[2] + ']'];
    });
  }
  rows('Inputs', io(nd[7]), 'gs-inputs');
  rows('Outputs', io(nd[8]), 'gs-outputs');
  rows('Cost', [['params', num(nd[9])], ['MACs', num(nd[10])], ['activation memory', fmtBytes(nd[11])]], 'gs-cost');
  var w = nd[7].filter(function (v) { return v >= 0 && D.values[v][3]; });
  if (w.length) rows('Weights', w.map(function (v) {
    var val = D.values[v], s = val[3];
    return [val[0], val[2] + (Array.isArray(s) ? '  min ' + s[0].toPrecision(4) + '  max ' + s[1].toPrecision(4) + '  mean ' + s[2].toPrecision(4) : '')];
  }), 'gs-weights');
  var probes = nd[8].filter(function (v) { return D.values[v][4]; });
  if (probes.length) rows('Activations (probes)', [].concat.apply([], probes.map(function (v) {
    var p = D.values[v][4];
    return Object.keys(p).sort().filter(function (key) { return key !== 'maps'; }).map(function (key) {
      var x = p[key];
      return [D.values[v][0] + ' ' + key, typeof x === 'number' && !Number.isInteger(x) ? x.toPrecision(4) : String(x)];
    });
  })), 'gs-probes');
  probes.forEach(function (v) {  // feature maps, when the probe report attached them
    var uri = D.values[v][4].maps;
    if (typeof uri === 'string' && uri.indexOf('data:image/png;base64,') === 0)
      el('img', {'class': 'gs-maps', src: uri, alt: 'feature maps of ' + D.values[v][0]}, side);
  });
};

Viewer.prototype.toggleTable = function () {
  var t = this.table;
  if (t.classList.toggle('gs-open')) this.fillTable(this.sortKey || 9);
};

Viewer.prototype.fillTable = function (key) {
  var D = this.D, self = this, t = this.table, LIMIT = 2000;
  this.sortKey = key;
  while (t.firstChild) t.removeChild(t.firstChild);
  var idx = D.nodes.map(function (_, k) { return k; });
  if (key >= 9) idx.sort(function (a, b) { return (D.nodes[b][key] || 0) - (D.nodes[a][key] || 0) || a - b; });
  var tab = el('table', null, t), head = el('tr', null, tab);
  [['#', -1], ['name', -1], ['op', -1], ['output', -1], ['params', 9], ['MACs', 10], ['memory', 11]].forEach(function (h) {
    var th = el('th', {'class': h[1] >= 9 ? 'gs-num' : ''}, head, h[0] + (h[1] === key ? ' \u25BC' : ''));
    if (h[1] >= 9) th.onclick = function () { self.fillTable(h[1]); };
  });
  idx.slice(0, LIMIT).forEach(function (k, r) {
    var nd = D.nodes[k], tr = el('tr', {'data-node': k}, tab);
    el('td', {'class': 'gs-num'}, tr, String(r + 1)); el('td', null, tr, nd[0]); el('td', null, tr, nd[1]);
    el('td', null, tr, nd[8].map(function (v) { return D.values[v][2]; }).join(', '));
    el('td', {'class': 'gs-num'}, tr, fmtCount(nd[9])); el('td', {'class': 'gs-num'}, tr, fmtCount(nd[10]));
    el('td', {'class': 'gs-num'}, tr, fmtBytes(nd[11]));
    tr.onclick = function () { self.reveal(k); };
  });
  if (idx.length > LIMIT) el('div', {style: 'padding:4px'}, t, 'showing ' + LIMIT + ' of ' + idx.length + ' layers');
};

/* ---- export ------------------------------------------------------------------------- */
Viewer.prototype.exportSvg = function () {
  // the whole current view (not only what is on screen), as a standalone SVG
  var cur = this.cur, P = this.pos, b = this.bounds(), self = this, pad = 20;
  var dark = this.root.classList.contains('gs-dark');
  var doc = document.implementation.createDocument(SVGNS, 'svg', null), svg = doc.documentElement;
  function s(tag, attrs, parent, text) {
    var e = doc.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  var W = b[2] - b[0] + 2 * pad, H = b[3] - b[1] + 2 * pad;
  svg.setAttribute('width', W); svg.setAttribute('height', H);
  svg.setAttribute('viewBox', (b[0] - pad) + ' ' + (b[1] - pad) + ' ' + W + ' ' + H);
  svg.setAttribute('font-family', 'Helvetica,Arial,sans-serif');
  s('rect', {x: b[0] - pad, y: b[1] - pad, width: W, height: H, fill: dark ? '#1e1f22' : '#ffffff'}, svg);
  var edge = dark ? '#9a9a9a' : '#666666';
  var defs = s('defs', {}, svg), mk = s('marker', {id: 'a', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto'}, defs);
  s('path', {d: 'M0,0L8,4L0,8z', fill: edge}, mk);
  (cur.frames || []).forEach(function (f) {
    var r = self.frameRect(f);
    s('rect', {x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1], rx: 6, fill: 'none', stroke: dark ? '#3a3b3f' : '#d0d0d0', 'stroke-dasharray': '4 3'}, svg);
    s('text', {x: r[0] + 6, y: r[1] + 12, 'font-size': 10, fill: dark ? '#a0a0a0' : '#666666'}, svg, self.D.namespaces[f.ns][0]);
  });
  var d = cur.view.edges.map(function (e, j) { return self.endpoints(e, j).d; }).join('');
  s('path', {d: d, fill: 'none', stroke: edge, 'marker-end': 'url(#a)'}, svg);
  cur.view.boxes.forEach(function (bx, i) {
    var st = self.styleOf(bx), g = s('g', {transform: 'translate(' + (P.x[i] - bx.w / 2) + ',' + (P.y[i] - bx.h / 2) + ')'}, svg);
    s('rect', {width: bx.w, height: bx.h, rx: bx.kind === 'input' || bx.kind === 'output' ? bx.h / 2 : 4, fill: st[0], stroke: st[1]}, g);
    bx.lines.forEach(function (line, k) {
      s('text', {x: bx.w / 2, y: 16 + 14 * k, 'text-anchor': 'middle', fill: st[2], 'font-size': k ? 10 : 11}, g, line);
    });
    s('title', {}, g, self.tooltip(bx));
  });
  return new XMLSerializer().serializeToString(doc);
};

Viewer.prototype.exportPng = function () {
  var self = this, svg = this.exportSvg(), b = this.bounds();
  var scale = Math.min(2, 16000 / Math.max(b[2] - b[0] + 40, b[3] - b[1] + 40));
  var img = new Image();
  img.onload = function () {
    var c = document.createElement('canvas');
    c.width = Math.ceil(img.width * scale); c.height = Math.ceil(img.height * scale);
    var ctx = c.getContext('2d');
    ctx.scale(scale, scale); ctx.drawImage(img, 0, 0);
    c.toBlob(function (blob) { self.download(blob, 'image/png', '.png'); });
  };
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
};

Viewer.prototype.download = function (data, type, suffix) {
  var blob = data instanceof Blob ? data : new Blob([data], {type: type});
  var a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = (this.D.name || 'graph').replace(/[^\w.-]+/g, '_') + suffix;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
};

/* ---- start, and the test hook ------------------------------------------------------- */
var root = document.currentScript.parentNode;
var data = JSON.parse(root.querySelector('script.gs-data').textContent);
var viewer = new Viewer(root, data);
var ready = viewer.show(null).then(function () { return frame(); });
var hook = {
  ready: ready,
  visibleNodes: function () { return viewer.visibleNodes(); },
  expand: function (ns) { return ready.then(function () { return viewer.expand(ns); }); },
  collapse: function (ns) { return ready.then(function () { return viewer.collapse(ns); }); },
  search: function (text) {
    var hits = viewer.search(text);
    viewer.searchBox.value = String(text);
    viewer.runSearch(String(text));
    return hits.map(function (k) { return data.nodes[k][0]; });
  },
  select: function (name) { return ready.then(function () { return viewer.select(name); }); },
  boxes: function () { return viewer.layoutBoxes(); },
  edges: function () { return viewer.layoutEdges(); },
  viewer: viewer
};
root.graphscope = hook;
if (!window.graphscope) window.graphscope = hook;  // the first viewer on a page
})();
