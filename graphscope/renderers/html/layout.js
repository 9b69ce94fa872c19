/* graphscope compound layered layout. Runs in a Web Worker made from this function's source
   (or on the main thread where workers are not allowed). Hand-written, no dependencies.

   Every expanded namespace is a frame; each frame (and the top level) is laid out on its own
   as a layered graph whose vertices are its children: nodes, collapsed groups and the frames of
   sub-namespaces, each a rectangle of known size. So a frame holds exactly its content and
   siblings never overlap. An edge that leaves a frame goes to an out-port on the frame's
   bottom border (one per child that sends outside), an edge that enters it comes from an
   in-port on its top border; the levels' routes are joined into one polyline per edge.
   A frame's layout depends only on what is inside it, so it is cached by the expansion state
   of its subtree and reused when anything outside it changes. Everything is computed top to
   bottom (TB) and turned to the asked rank direction at the end. */
function layoutModule() {
  var NODESEP = 24, RANKSEP = 44, DUMMY_W = 8, PORT_W = 8;
  var PAD = 14, HEAD = 24, FOOT = 12;  // frame padding: sides, rank start (label), rank end
  var cache = {}, mirrored = {};

  /* ---- crossings between two adjacent layers (accumulator tree, Barth et al.) -------- */
  function crossings(L, nb, pos, nUpper) {
    var pairs = [], q, r;
    for (q = 0; q < L.length; q++) {
      var a = nb[L[q]];
      for (r = 0; r < a.length; r++) pairs.push(pos[L[q]] * nUpper * 4 + pos[a[r]]);
    }
    if (pairs.length < 2) return 0;
    pairs.sort(function (x, y) { return x - y; });
    var first = 1;
    while (first < nUpper) first *= 2;
    var tree = new Int32Array(2 * first), cross = 0;
    for (q = 0; q < pairs.length; q++) {
      var idx = pairs[q] % (nUpper * 4) + first;
      tree[idx]++;
      while (idx > 1) {
        if (idx % 2 === 0) cross += tree[idx + 1];  // left child: count the larger ones
        idx = idx >> 1;
        tree[idx]++;
      }
    }
    return cross;
  }

  /* ---- one level: children of a frame (or the top level) plus its ports ----------------
     lv: {w[], h[], ord[], edges[[a, b]], ins[child], outs[child], framed, minW}
     returns {x[], y[] (child centres, TB, origin the frame's top-left), W, H,
              routes: {key: [x0, y0, x1, y1, ...]}} with keys a + ',' + b, 'i' + c, 'o' + c */
  function level(lv) {
    var n = lv.w.length, i, j, k, l, q;
    var head = lv.framed ? lv.head : 0, foot = lv.framed ? lv.foot : 0, pad = lv.framed ? PAD : 0;
    var ord = lv.ord, E = [], seen = {};
    for (i = 0; i < lv.edges.length; i++) {  // orient along the topological order
      var s = lv.edges[i][0], d = lv.edges[i][1];
      if (s === d) continue;
      var rev = ord[s] > ord[d], a = rev ? d : s, b = rev ? s : d, key = a + ',' + b;
      if (seen[key] !== undefined) continue;
      seen[key] = E.length;
      // with the offsets of the ports it leaves and enters by (a frame's), for the ordering
      E.push(rev ? [a, b, 0, 0] : [a, b, lv.edges[i][2] || 0, lv.edges[i][3] || 0]);
    }
    var byOrd = [];
    for (i = 0; i < n; i++) byOrd.push(i);
    byOrd.sort(function (p, r) { return ord[p] - ord[r]; });
    var ins = [], outs = [];
    for (i = 0; i < n; i++) { ins.push([]); outs.push([]); }
    E.forEach(function (e) { outs[e[0]].push(e[1]); ins[e[1]].push(e[0]); });
    var layer = new Int32Array(n);
    for (k = 0; k < n; k++) {  // longest path from the sources
      i = byOrd[k];
      var lay = 0;
      for (j = 0; j < ins[i].length; j++) lay = Math.max(lay, layer[ins[i][j]] + 1);
      layer[i] = lay;
    }
    for (k = n - 1; k >= 0; k--) {  // sources sit just above their first consumer
      i = byOrd[k];
      if (ins[i].length || !outs[i].length) continue;
      var mn = 1e9;
      for (j = 0; j < outs[i].length; j++) mn = Math.min(mn, layer[outs[i][j]]);
      layer[i] = Math.max(0, mn - 1);
    }
    var top = 0;
    for (i = 0; i < n; i++) top = Math.max(top, layer[i]);
    // vertices: children (shifted one layer down when there are ports), ports, dummies
    var shift = lv.framed ? 1 : 0, nl = top + 1 + 2 * shift;
    var vl = [], vw = [], vh = [], up = [], down = [], upOff = [], downOff = [], chains = [], ckeys = [];
    function vertex(l, w, h) { vl.push(l); vw.push(w); vh.push(h || 0); up.push([]); down.push([]); upOff.push([]); downOff.push([]); return vl.length - 1; }
    for (i = 0; i < n; i++) vertex(layer[i] + shift, lv.w[i], lv.h[i]);
    // an edge as a chain of vertices; offFrom/offTo: where on its ends' borders it meets them
    // (px from the centre), seen by the neighbours' barycentres as a fraction of a position
    var spans = 0;  // dummy points only while they stay few (a bound on the work)
    E.forEach(function (e) { spans += Math.max(0, layer[e[1]] - layer[e[0]] - 1); });
    var dummies = spans <= 4 * n + 2000;
    function chain(from, to, key, offFrom, offTo) {
      var c = [from], span = vl[to] - vl[from] - 1;
      if (dummies && span <= 400 || from >= n || to >= n) for (var z = vl[from] + 1; z < vl[to]; z++) c.push(vertex(z, DUMMY_W));
      c.push(to);
      var of = 0.8 * (offFrom || 0) / vw[from], ot = 0.8 * (offTo || 0) / vw[to];
      for (var z2 = 0; z2 + 1 < c.length; z2++) {
        down[c[z2]].push(c[z2 + 1]); downOff[c[z2]].push(z2 + 2 === c.length ? ot : 0);
        up[c[z2 + 1]].push(c[z2]); upOff[c[z2 + 1]].push(z2 === 0 ? of : 0);
      }
      chains.push(c); ckeys.push(key);
    }
    if (lv.framed) {
      lv.ins.forEach(function (c, z) { chain(vertex(0, PORT_W), c, 'i' + c, 0, lv.inOff[z]); });
      lv.outs.forEach(function (c, z) { chain(c, vertex(nl - 1, PORT_W), 'o' + c, lv.outOff[z], 0); });
    }
    E.forEach(function (e) { chain(e[0], e[1], e[0] + ',' + e[1], e[2], e[3]); });
    var total = vl.length, layers = [];
    for (l = 0; l < nl; l++) layers.push([]);
    for (k = 0; k < n; k++) layers[vl[byOrd[k]]].push(byOrd[k]);
    for (i = n; i < total; i++) layers[vl[i]].push(i);
    var pos = new Float64Array(total);
    function number(L) { for (var z = 0; z < L.length; z++) pos[L[z]] = z; }
    layers.forEach(number);
    order(layers, up, down, pos, number, total, false, upOff, downOff);
    var x = place(layers, up, down, vw);
    // ranks: each layer as tall as its tallest box, boxes centred in it
    var rtop = new Float64Array(nl), rbot = new Float64Array(nl), y = head;
    for (l = 0; l < nl; l++) {
      var lh = 0;
      for (q = 0; q < layers[l].length; q++) lh = Math.max(lh, vh[layers[l][q]]);
      if (lv.framed && l === 0) { rtop[l] = rbot[l] = 0; continue; }
      if (lv.framed && l === nl - 1) { y += foot - RANKSEP; rtop[l] = rbot[l] = y; continue; }
      rtop[l] = y; rbot[l] = y + lh;
      y += lh + RANKSEP;
    }
    var H = lv.framed ? rbot[nl - 1] : Math.max(0, y - RANKSEP);
    var x0 = 1e18, x1 = -1e18;
    for (i = 0; i < total; i++) { x0 = Math.min(x0, x[i] - vw[i] / 2); x1 = Math.max(x1, x[i] + vw[i] / 2); }
    if (!total) { x0 = 0; x1 = 0; }
    var W = x1 - x0 + 2 * pad, dx = pad - x0;
    if (lv.framed && W < lv.minW) { dx += (lv.minW - W) / 2; W = lv.minW; }
    var X = new Float64Array(n), Y = new Float64Array(n);
    for (i = 0; i < n; i++) { X[i] = x[i] + dx; Y[i] = (rtop[vl[i]] + rbot[vl[i]]) / 2; }
    var routes = {};
    chains.forEach(function (c, ci) {
      var pts = [], u = c[0], v = c[c.length - 1];
      pts.push(x[u] + dx, (rtop[vl[u]] + rbot[vl[u]]) / 2 + vh[u] / 2, x[u] + dx, rbot[vl[u]]);
      for (var z = 1; z + 1 < c.length; z++) pts.push(x[c[z]] + dx, rtop[vl[c[z]]], x[c[z]] + dx, rbot[vl[c[z]]]);
      pts.push(x[v] + dx, rtop[vl[v]], x[v] + dx, (rtop[vl[v]] + rbot[vl[v]]) / 2 - vh[v] / 2);
      routes[ckeys[ci]] = pts;
    });
    return {x: X, y: Y, W: W, H: H, routes: routes};
  }

  /* ---- ordering: barycentre and median sweeps, the best kept, then transposition ------- */
  function order(layers, up, down, pos, number, total, fixedEnds, upOff, downOff) {
    // fixedEnds: the port layers (first and last) keep the order of their keys
    var nl = layers.length, l, it, lo = fixedEnds ? 1 : 0, hi = fixedEnds ? nl - 2 : nl - 1;
    function count() {
      var c = 0;
      for (var z = 0; z + 1 < nl; z++) c += crossings(layers[z], down, pos, layers[z + 1].length + 1);
      return c;
    }
    if (nl < 2) return;
    function sweep(L, nb, median, offs) {
      var key = new Float64Array(L.length), q, r;
      for (q = 0; q < L.length; q++) {
        var a = nb[L[q]], o = offs[L[q]];
        if (!a.length) { key[q] = -1; continue; }
        if (median) {
          var ps = a.map(function (v, z) { return pos[v] + o[z]; }).sort(function (s, t) { return s - t; });
          var m = ps.length >> 1;
          key[q] = ps.length % 2 ? ps[m] : (ps[m - 1] + ps[m]) / 2;
        } else {
          var sum = 0;
          for (r = 0; r < a.length; r++) sum += pos[a[r]] + o[r];
          key[q] = sum / a.length;
        }
      }
      // vertices without neighbours there keep their place among the others
      for (q = 0; q < L.length; q++) if (key[q] < 0) key[q] = q ? key[q - 1] : 0;
      var idx = L.map(function (_, z) { return z; });
      idx.sort(function (s, t) { return key[s] - key[t] || s - t; });
      var sorted = idx.map(function (z) { return L[z]; });
      for (q = 0; q < L.length; q++) L[q] = sorted[q];
      number(L);
    }
    var best = count(), bestOrd = layers.map(function (L) { return L.slice(); });
    var small = total <= 3000, rounds = total > 20000 ? 4 : small ? 24 : 12;
    function improve() {
      for (it = 0; it < rounds && best > 0; it++) {
        var median = it >= 4 && it % 4 >= 2;
        if (it % 2 === 0) for (l = Math.max(1, lo); l <= hi; l++) sweep(layers[l], up, median, upOff);
        else for (l = Math.min(nl - 2, hi); l >= lo; l--) sweep(layers[l], down, median, downOff);
        if (small) transpose(layers, up, down, pos, lo, hi);  // as dot does, after every sweep
        var c = count();
        if (c < best) { best = c; bestOrd = layers.map(function (L) { return L.slice(); }); }
      }
    }
    improve();
    if (small && best > 0) {  // a second start: the order in which a depth-first walk meets them
      var seen = new Uint8Array(total), at = new Float64Array(total), n2 = 0, stack = [];
      var starts = [];
      for (l = 0; l < nl; l++) for (var q = 0; q < layers[l].length; q++) if (!up[layers[l][q]].length) starts.push(layers[l][q]);
      starts.sort(function (a, b) { return vl0(a) - vl0(b); });
      starts.forEach(function (v0) {
        stack.push(v0);
        while (stack.length) {
          var v = stack.pop();
          if (seen[v]) continue;
          seen[v] = 1; at[v] = n2++;
          for (var z = down[v].length - 1; z >= 0; z--) if (!seen[down[v][z]]) stack.push(down[v][z]);
        }
      });
      for (l = 0; l < nl; l++) {
        if (fixedEnds && (l === 0 || l === nl - 1)) continue;
        layers[l].sort(function (a, b) { return at[a] - at[b]; });
        number(layers[l]);
      }
      var c0 = count();
      if (c0 < best) { best = c0; bestOrd = layers.map(function (L) { return L.slice(); }); }
      improve();
    }
    for (l = 0; l < nl; l++) { layers[l] = bestOrd[l]; number(layers[l]); }
    if (best > 0 && total <= 3000) transpose(layers, up, down, pos, lo, hi);
    function vl0(v) { return pos[v]; }
  }

  // crossings among the edges of u and v (u left of v) towards one neighbouring layer
  function pairCross(nu, nv, pos) {
    var c = 0;
    for (var a = 0; a < nu.length; a++) for (var b = 0; b < nv.length; b++) if (pos[nu[a]] > pos[nv[b]]) c++;
    return c;
  }

  function transpose(layers, up, down, pos, lo, hi) {
    var improved = true, guard = 0;
    while (improved && guard++ < 8) {
      improved = false;
      for (var l = lo; l <= hi; l++) {
        var L = layers[l];
        for (var q = 0; q + 1 < L.length; q++) {
          var u = L[q], v = L[q + 1];
          var now = pairCross(up[u], up[v], pos) + pairCross(down[u], down[v], pos);
          var swapped = pairCross(up[v], up[u], pos) + pairCross(down[v], down[u], pos);
          if (swapped < now) {
            L[q] = v; L[q + 1] = u; pos[u] = q + 1; pos[v] = q;
            improved = true;
          }
        }
      }
    }
  }

  /* ---- x placement: pull each vertex towards its neighbours, keeping order and gaps ---- */
  function place(layers, up, down, vw) {
    var total = vw.length, x = new Float64Array(total), nl = layers.length, it, l;
    layers.forEach(function (L) {
      var cx = 0;
      for (var q = 0; q < L.length; q++) {
        if (q) cx += (vw[L[q - 1]] + vw[L[q]]) / 2 + NODESEP;
        x[L[q]] = cx;
      }
    });
    function pass(L, nb, both) {
      var len = L.length, want = new Float64Array(len), lo = new Float64Array(len),
          hi = new Float64Array(len), q, v, r;
      for (q = 0; q < len; q++) {
        v = L[q];
        var a = nb[v], sum = 0, cnt = a.length;
        for (r = 0; r < a.length; r++) sum += x[a[r]];
        if (both) { var b = both[v]; cnt += b.length; for (r = 0; r < b.length; r++) sum += x[b[r]]; }
        want[q] = cnt ? sum / cnt : x[v];
      }
      for (q = 0; q < len; q++) {
        v = L[q];
        lo[q] = q ? Math.max(want[q], lo[q - 1] + (vw[L[q - 1]] + vw[v]) / 2 + NODESEP) : want[q];
      }
      for (q = len - 1; q >= 0; q--) {
        v = L[q];
        hi[q] = q < len - 1 ? Math.min(want[q], hi[q + 1] - (vw[L[q + 1]] + vw[v]) / 2 - NODESEP) : want[q];
      }
      for (q = 0; q < len; q++) x[L[q]] = (lo[q] + hi[q]) / 2;
    }
    for (it = 0; it < 6; it++) {
      if (it % 2 === 0) for (l = 1; l < nl; l++) pass(layers[l], up, it >= 4 ? down : null);
      else for (l = nl - 2; l >= 0; l--) pass(layers[l], down, it >= 3 ? up : null);
    }
    return x;
  }

  /* ---- the compound layout --------------------------------------------------------------
     req: {rankdir, w[], h[], ord[], parent[] (frame index or -1) for the visible boxes;
           frames: {parent[], key[], minW[]}; edges: [[s, d]] between boxes}
     returns {x[], y[] box centres; frames: [[x, y, w, h]]; paths: [[x0, y0, ...]] per edge} */
  function layout(req) {
    var rd = req.rankdir, horiz = rd === 'LR' || rd === 'RL';
    var nb = req.w.length, nf = req.frames.parent.length, N = nb + nf, i, j;
    var W = new Float64Array(N), H = new Float64Array(N), ORD = new Float64Array(N);
    var parent = new Int32Array(N);  // item -> container item (nb + frame) or -1 (top level)
    for (i = 0; i < nb; i++) {
      W[i] = horiz ? req.h[i] : req.w[i]; H[i] = horiz ? req.w[i] : req.h[i];
      ORD[i] = req.ord[i];
      parent[i] = req.parent[i] < 0 ? -1 : nb + req.parent[i];
    }
    for (j = 0; j < nf; j++) { parent[nb + j] = req.frames.parent[j] < 0 ? -1 : nb + req.frames.parent[j]; ORD[nb + j] = Infinity; }
    var depth = new Int32Array(N);
    function dep(v) { return v < 0 ? 0 : depth[v] || (depth[v] = dep(parent[v]) + 1); }
    for (i = 0; i < N; i++) dep(i);
    for (i = 0; i < nb; i++) for (j = parent[i]; j >= 0; j = parent[j]) ORD[j] = Math.min(ORD[j], ORD[i]);
    // children of each container (index nf: the top level)
    var kids = [];
    for (j = 0; j <= nf; j++) kids.push([]);
    var local = new Int32Array(N);
    for (i = 0; i < N; i++) { var c = parent[i] < 0 ? nf : parent[i] - nb; local[i] = kids[c].length; kids[c].push(i); }
    // every edge: the level where its ends meet, and the ports it needs on the way
    var lvEdges = [], ins = [], outs = [];
    for (j = 0; j <= nf; j++) { lvEdges.push([]); ins.push({}); outs.push({}); }
    var plan = req.edges.map(function (e) {
      var s = e[0], d = e[1], up1 = [], up2 = [];
      while (dep(s) > dep(d)) { up1.push(s); s = parent[s]; }
      while (dep(d) > dep(s)) { up2.push(d); d = parent[d]; }
      while (parent[s] !== parent[d]) { up1.push(s); s = parent[s]; up2.push(d); d = parent[d]; }
      // a port's key: the order of the earliest box that sends through it, so that the
      // out-ports of one frame and the in-ports of another line up in the same order
      var key = ORD[e[0]];
      up1.forEach(function (v) { var o = outs[parent[v] - nb]; o[local[v]] = Math.min(key, o[local[v]] === undefined ? Infinity : o[local[v]]); });
      up2.forEach(function (v) { var o = ins[parent[v] - nb]; o[local[v]] = Math.min(key, o[local[v]] === undefined ? Infinity : o[local[v]]); });
      var L = parent[s] < 0 ? nf : parent[s] - nb;
      lvEdges[L].push([local[s], local[d], s, d, up1[up1.length - 1], up2[up2.length - 1]]);
      return {up1: up1, up2: up2, s: s, d: d, L: L};
    });
    function ports(keys) {  // children with a port, in the order of their keys
      return Object.keys(keys).map(Number).sort(function (a, b) { return keys[a] - keys[b] || a - b; });
    }
    // lay out frames bottom-up (deepest first), from the cache when their subtree is unchanged
    var res = new Array(nf + 1), frames = [];
    for (j = 0; j < nf; j++) frames.push(j);
    frames.sort(function (a, b) { return depth[nb + b] - depth[nb + a]; });
    frames.push(nf);
    var hd = rd === 'BT' ? FOOT : HEAD, ft = rd === 'BT' ? HEAD : FOOT;
    frames.forEach(function (f) {
      var key = f < nf ? rd + '|' + req.frames.key[f] : null;
      if (key && cache[key]) { res[f] = cache[key]; return; }
      var ch = kids[f];
      function portX(F, side, c) {  // where child c's port of frame F is, from F's centre
        var pts = res[F - nb].routes[side + local[c]];
        return pts ? (side === 'i' ? pts[0] : pts[pts.length - 2]) - res[F - nb].W / 2 : 0;
      }
      function meanPort(F, side) {  // all of a frame's ports of one side, from its centre
        if (F < nb) return 0;
        var sum = 0, cnt = 0, R = res[F - nb].routes;
        for (var k in R) if (k.charAt(0) === side) { sum += side === 'i' ? R[k][0] : R[k][R[k].length - 2]; cnt++; }
        return cnt ? sum / cnt - res[F - nb].W / 2 : 0;
      }
      var edges = lvEdges[f].map(function (e) {
        return [e[0], e[1], e[2] >= nb && e[4] !== undefined ? portX(e[2], 'o', e[4]) : 0,
                e[3] >= nb && e[5] !== undefined ? portX(e[3], 'i', e[5]) : 0];
      });
      var lv = {w: ch.map(function (v) { return v < nb ? W[v] : res[v - nb].W; }),
                h: ch.map(function (v) { return v < nb ? H[v] : res[v - nb].H; }),
                ord: ch.map(function (v) { return ORD[v]; }), edges: edges,
                ins: ports(ins[f]), outs: ports(outs[f]),
                framed: f < nf, minW: f < nf && !horiz ? req.frames.minW[f] : 0, head: hd, foot: ft};
      lv.inOff = lv.ins.map(function (c) { return meanPort(ch[c], 'i'); });
      lv.outOff = lv.outs.map(function (c) { return meanPort(ch[c], 'o'); });
      res[f] = level(lv);
      if (key) cache[key] = res[f];
    });
    // a child frame is drawn mirrored where that uncrosses the routes at its borders: the
    // order in which they reach the parent's ranks against the order of the frame's ports.
    // Decided top-down, each level's frames from the top rank down, so that a frame right
    // below another sees where the routes leave that one's (possibly mirrored) ports.
    var votes = {}, mirror = new Uint8Array(N);
    function vote(G, rec) {
      var v = votes[G] || (votes[G] = {seen: {}, list: []}), k = rec.join(':');
      if (!v.seen[k]) { v.seen[k] = 1; v.list.push(rec); }
    }
    function routeOf(G, last, p, out) {  // the route that leaves (enters) frame G at its level
      var lvl = parent[G] < 0 ? nf : parent[G] - nb;
      if (!last) return res[lvl].routes[(out ? 'o' : 'i') + local[G]];
      if (ORD[p.s] > ORD[p.d]) return null;
      return res[lvl].routes[local[p.s] + ',' + local[p.d]];
    }
    plan.forEach(function (p) {
      var cs = p.up1.concat([p.s]), cd = p.up2.concat([p.d]), j, pts, port;
      for (j = 1; j < cs.length; j++) {  // [departure x, port x, -1]
        pts = routeOf(cs[j], j === cs.length - 1, p, true);
        port = res[cs[j] - nb].routes['o' + local[cs[j - 1]]];
        if (pts && pts.length > 8 && port) vote(cs[j], [pts[4], port[port.length - 2], -1, -1]);
      }
      for (j = 1; j < cd.length; j++) {  // [approach x, port x, source frame, its port x]
        var last = j === cd.length - 1;
        pts = routeOf(cd[j], last, p, false);
        port = res[cd[j] - nb].routes['i' + local[cd[j - 1]]];
        if (!pts || pts.length < 6 || !port) continue;
        var F = -1, fx = -1;
        if (last && pts.length === 8 && p.s >= nb && p.up1.length) {  // straight from a frame
          var fp = res[p.s - nb].routes['o' + local[p.up1[p.up1.length - 1]]];
          if (fp) { F = p.s; fx = fp[fp.length - 2]; }
        }
        vote(cd[j], [pts[pts.length - 6], port[0], F, fx]);
      }
    });
    function decide(G) {
      var L = votes[G] ? votes[G].list : [], neg = 0, pos = 0, lvl = parent[G] < 0 ? nf : parent[G] - nb;
      var xs = L.map(function (r) {
        if (r[2] < 0) return r[0];
        var F = r[2], w = res[F - nb].W, left = res[lvl].x[local[F]] - w / 2;
        return left + (mirror[F] ? w - r[3] : r[3]);
      });
      for (var a = 0; a < L.length; a++) for (var b = a + 1; b < L.length; b++) {
        var t = (xs[a] - xs[b]) * (L[a][1] - L[b][1]);
        if (t < 0) neg++; else if (t > 0) pos++;
      }
      // decided once per frame layout and kept, so that a frame does not flip when
      // something else expands
      var key = rd + '|' + req.frames.key[G - nb];
      if (!(key in mirrored) && L.length) mirrored[key] = pos < neg ? 1 : 0;
      mirror[G] = mirrored[key] || 0;
    }
    (function down(f) {
      var r = res[f], fr = kids[f].filter(function (v) { return v >= nb; });
      fr.sort(function (a, b) { return r.y[local[a]] - r.y[local[b]] || r.x[local[a]] - r.x[local[b]]; });
      fr.forEach(decide);
      fr.forEach(function (v) { down(v - nb); });
    })(nf);
    // absolute positions, top-down (TB space)
    var AX = new Float64Array(N), AY = new Float64Array(N), FLIP = new Uint8Array(N);
    function placeKids(f, ox, oy, flip) {
      var r = res[f];
      kids[f].forEach(function (v, q) {
        var w = v < nb ? W[v] : res[v - nb].W, h = v < nb ? H[v] : res[v - nb].H;
        AX[v] = ox + (flip ? r.W - r.x[q] : r.x[q]) - w / 2; AY[v] = oy + r.y[q] - h / 2;
        if (v >= nb) { FLIP[v] = flip ^ mirror[v]; placeKids(v - nb, AX[v], AY[v], FLIP[v]); }
      });
    }
    placeKids(nf, 0, 0, 0);
    function piece(f, key, back) {  // a level's route in absolute coordinates
      var pts = res[f].routes[key], ox = f < nf ? AX[nb + f] : 0, oy = f < nf ? AY[nb + f] : 0, out = [];
      var flip = f < nf && FLIP[nb + f], w = res[f].W;
      if (!pts) return out;
      for (var z = 0; z < pts.length; z += 2) out.push([(flip ? w - pts[z] : pts[z]) + ox, pts[z + 1] + oy]);
      return back ? out.reverse() : out;
    }
    var paths = plan.map(function (p) {
      var all = [], z;
      p.up1.forEach(function (v) { join(all, piece(parent[v] - nb, 'o' + local[v]), true); });
      var a = local[p.s], b = local[p.d], back = ORD[p.s] > ORD[p.d];
      var mid = piece(p.L, back ? b + ',' + a : a + ',' + b, back);
      if (back && mid.length >= 4) {
        // against the ranks (the namespaces interleave): the route runs from the top of its
        // source to the bottom of its target, so a frame's port on the other border is
        // reached round the frame's right side, in the gap its neighbours keep
        if (p.s >= nb && all.length) {
          var last = all[all.length - 1], sx = AX[p.s] + res[p.s - nb].W + 10;
          var below = AY[p.s] + res[p.s - nb].H + 8, above = Math.min(mid[1][1], AY[p.s] - 8);
          all.push([last[0], below], [sx, below], [sx, above]);
          mid = mid.slice(2);
        }
        var inner = p.up2.length ? piece(parent[p.up2[p.up2.length - 1]] - nb, 'i' + local[p.up2[p.up2.length - 1]]) : [];
        if (p.d >= nb && inner.length && mid.length >= 2) {
          var dx = AX[p.d] + res[p.d - nb].W + 10, bot = Math.max(mid[mid.length - 2][1], AY[p.d] + res[p.d - nb].H + 8);
          mid = mid.slice(0, mid.length - 2);
          mid.push([dx, bot], [dx, AY[p.d] - 8], [inner[0][0], AY[p.d] - 8]);
        }
        for (z = 0; z < mid.length; z++) all.push(mid[z]);
      } else join(all, mid, true);
      for (z = p.up2.length - 1; z >= 0; z--) join(all, piece(parent[p.up2[z]] - nb, 'i' + local[p.up2[z]]), !back || z !== p.up2.length - 1 ? false : 'keep');
      return all;
    });
    // joins the next level's route: a route drawn to a frame's centre line is moved to the
    // port of the inner route (leaving: the next route's start; entering: the route's end)
    function join(all, next, leaving) {
      if (!next.length) return;
      var n2 = all.length;
      if (n2 && next.length > 1) {
        if (leaving === 'keep') { /* already at the port */ }
        else if (leaving) { next[0][0] = all[n2 - 1][0]; next[1][0] = all[n2 - 1][0]; }
        else if (n2 > 1) { all[n2 - 1][0] = next[0][0]; all[n2 - 2][0] = next[0][0]; }
      }
      for (var z = 0; z < next.length; z++) all.push(next[z]);
    }
    // TB space to the asked direction
    function mx(px, py) { return rd === 'LR' ? py : rd === 'RL' ? -py : px; }
    function my(px, py) { return rd === 'BT' ? -py : horiz ? px : py; }
    var X = new Float64Array(nb), Y = new Float64Array(nb);
    for (i = 0; i < nb; i++) { var cx = AX[i] + W[i] / 2, cy = AY[i] + H[i] / 2; X[i] = mx(cx, cy); Y[i] = my(cx, cy); }
    var frameRects = [];
    for (j = 0; j < nf; j++) {
      var v = nb + j, fx0 = mx(AX[v], AY[v]), fy0 = my(AX[v], AY[v]);
      var fx1 = mx(AX[v] + res[j].W, AY[v] + res[j].H), fy1 = my(AX[v] + res[j].W, AY[v] + res[j].H);
      frameRects.push([Math.min(fx0, fx1), Math.min(fy0, fy1), Math.abs(fx1 - fx0), Math.abs(fy1 - fy0)]);
    }
    var flat = paths.map(function (pts) {
      var o = [];
      pts.forEach(function (p, z) {  // repeated points dropped
        if (z && Math.abs(p[0] - pts[z - 1][0]) < 1e-6 && Math.abs(p[1] - pts[z - 1][1]) < 1e-6) return;
        o.push(mx(p[0], p[1]), my(p[0], p[1]));
      });
      return o;
    });
    return {x: X, y: Y, frames: frameRects, paths: flat};
  }
  if (typeof window === 'undefined' && typeof self !== 'undefined') {
    self.onmessage = function (e) { self.postMessage({id: e.data.id, res: layout(e.data.req)}); };
  }
  return layout;
}
