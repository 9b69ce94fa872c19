/* graphscope compound layered layout. Runs in a Web Worker made from this function's source
   (or on the main thread where workers are not allowed). Hand-written, no dependencies.

   Every expanded namespace is a frame; each frame (and the top level) is laid out on its own
   as a layered graph whose vertices are its children: nodes, collapsed groups and the frames of
   sub-namespaces, each a rectangle of known size. So a frame holds exactly its content and
   siblings never overlap. An edge that leaves a frame goes to an out-port on the frame's
   bottom border (one per child that sends outside), an edge that enters it comes from an
   in-port on its top border (one per value that enters); an edge against the ranks where its
   ends meet uses ports on the other borders. Between two children of a level, each pair of
   ports has its own route, and the ordering counts crossings where the edges meet their ends
   (a frame's port, not its centre); the levels' routes are joined into one polyline per edge.
   A frame's layout depends only on what is inside it, so it is cached by the expansion state
   of its subtree and reused when anything outside it changes. Everything is computed top to
   bottom (TB) and turned to the asked rank direction at the end. */
function layoutModule() {
  var NODESEP = 24, RANKSEP = 44, DUMMY_W = 8, PORT_W = 8;
  var RANK_MAX = 2000;  // levels up to this many children get network-simplex ranks
  var TRY_MAX = 400;  // and up to this many, three rankings are tried
  var EFFORT_MAX = 3000;  // views up to this many boxes and frames get the costlier ordering
  var PAD = 14, HEAD = 24, FOOT = 12;  // frame padding: sides, rank start (label), rank end
  var cache = {}, mirrored = {};

  /* ---- crossings between two adjacent layers (accumulator tree, Barth et al.) -------- */
  function crossings(L, nb, pos, nUpper, fromOff, toOff) {
    var pairs = [], q, r;
    for (q = 0; q < L.length; q++) {  // ports of a frame: the edges meet it apart
      var f0 = fromOff[L[q]], t0 = toOff[L[q]];
      for (r = 0; r < f0.length; r++) if (f0[r] || t0[r]) return crossingsAt(L, nb, pos, fromOff, toOff);
    }
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

  /* ---- ranks by network simplex (Gansner et al., as dot): the feasible ranking with the
     least total edge length, which keeps long skip edges short. rank: a feasible start
     (longest path), improved in place; E: [a, b] with a above b. Bounded: at most `cap`
     pivots. ------------------------------------------------------------------------------ */
  function simplex(n, E, rank, cap) {
    var m = E.length, i, k, adj = [];
    for (i = 0; i < n; i++) adj.push([]);
    E.forEach(function (e, z) { adj[e[0]].push(z); adj[e[1]].push(z); });
    function slack(z) { return rank[E[z][1]] - rank[E[z][0]] - 1; }
    // a feasible spanning forest of tight edges: grow a tree from each vertex not yet in one,
    // shifting the tree's ranks to make the least-slack edge to it tight
    var inT = new Uint8Array(n), tree = new Uint8Array(m), members = [];
    function grow(v0) {
      var stack = [v0], got = [];
      inT[v0] = 1;
      while (stack.length) {
        var v = stack.pop();
        got.push(v);
        adj[v].forEach(function (z) {
          var o = E[z][0] === v ? E[z][1] : E[z][0];
          if (!inT[o] && slack(z) === 0) { inT[o] = 1; tree[z] = 1; stack.push(o); }
        });
      }
      return got;
    }
    for (i = 0; i < n; i++) {
      if (inT[i]) continue;
      members = grow(i);
      for (;;) {
        var bestZ = -1, bestS = Infinity;
        for (k = 0; k < members.length; k++) {
          var v = members[k];
          for (var q = 0; q < adj[v].length; q++) {
            var z = adj[v][q], o = E[z][0] === v ? E[z][1] : E[z][0];
            if (!inT[o] && slack(z) < bestS) { bestS = slack(z); bestZ = z; }
          }
        }
        if (bestZ < 0) break;
        var d = inT[E[bestZ][0]] ? bestS : -bestS;
        members.forEach(function (u) { rank[u] += d; });
        var more = [];
        members.forEach(function (u) {
          adj[u].forEach(function (z) {
            var o = E[z][0] === u ? E[z][1] : E[z][0];
            if (!inT[o] && slack(z) === 0) { tree[z] = 1; more = more.concat(grow(o)); }
          });
        });
        members = members.concat(more);
      }
    }
    // cut values from the tree's postorder: the cut of the edge above a subtree C is the
    // weight leaving C less the weight entering it (signed by that edge's direction), and
    // that is the sum over C of each vertex's out-degree less its in-degree
    var par = new Int32Array(n), low = new Int32Array(n), lim = new Int32Array(n), cut = new Float64Array(m);
    var flow = new Float64Array(n), bal = new Float64Array(n), roots = [];
    E.forEach(function (e) { bal[e[0]]++; bal[e[1]]--; });
    function number() {
      par.fill(-2);
      var nextLim = 0;
      for (var r = 0; r < n; r++) {
        if (par[r] !== -2) continue;
        par[r] = -1;
        var stack = [[r, 0]];
        while (stack.length) {
          var top = stack[stack.length - 1], v = top[0];
          if (top[1] === 0) { low[v] = nextLim; flow[v] = bal[v]; }
          var pushed = false;
          while (top[1] < adj[v].length) {
            var z = adj[v][top[1]++];
            if (!tree[z]) continue;
            var o = E[z][0] === v ? E[z][1] : E[z][0];
            if (par[o] !== -2) continue;
            par[o] = z; stack.push([o, 0]); pushed = true; break;
          }
          if (pushed) continue;
          stack.pop();
          lim[v] = nextLim++;
          if (par[v] >= 0) {
            var z2 = par[v], p = E[z2][0] === v ? E[z2][1] : E[z2][0];
            flow[p] += flow[v];
            cut[z2] = E[z2][0] === v ? flow[v] : -flow[v];
          }
        }
      }
    }
    function under(x, c) { return low[c] <= lim[x] && lim[x] <= lim[c]; }
    number();
    var start = 0;
    for (var it = 0; it < cap; it++) {
      var leave = -1;
      for (k = 0; k < m; k++) {  // the first tree edge with a negative cut, searched round
        var z3 = (start + k) % m;
        if (tree[z3] && cut[z3] < 0) { leave = z3; break; }
      }
      if (leave < 0) break;
      start = leave + 1;
      // the subtree below the leaving edge; the entering edge goes the other way across the cut
      var a = E[leave][0], b = E[leave][1], c = lim[a] < lim[b] ? a : b, cIsTail = c === a;
      var enter = -1, es = Infinity;
      for (k = 0; k < m; k++) {
        if (tree[k]) continue;
        var inS = under(E[k][0], c), inD = under(E[k][1], c);
        if (inS === inD || (cIsTail ? inS : inD)) continue;
        var s = slack(k);
        if (s < es) { es = s; enter = k; }
      }
      if (enter < 0) break;
      tree[leave] = 0; tree[enter] = 1;
      var dd = cIsTail ? -es : es;  // the subtree's ranks move to make the new edge tight
      for (i = 0; i < n; i++) if (under(i, c)) rank[i] += dd;
      number();
    }
    var lo = Infinity;
    for (i = 0; i < n; i++) lo = Math.min(lo, rank[i]);
    for (i = 0; i < n; i++) rank[i] -= lo;
  }

  // the same where edges meet their ends at offsets (fractions of a position): inversions
  // among (upper end, lower end) pairs, ties at either end not counted
  function crossingsAt(L, nb, pos, fromOff, toOff) {
    var U = [], D = [], q, r;
    for (q = 0; q < L.length; q++) {
      var a = nb[L[q]], fo = fromOff[L[q]], to = toOff[L[q]];
      for (r = 0; r < a.length; r++) { U.push(pos[L[q]] + fo[r]); D.push(pos[a[r]] + to[r]); }
    }
    var m = U.length, idx = [], ds, rank = new Int32Array(m), tree = new Int32Array(m + 1), cross = 0, done = 0;
    if (m < 2) return 0;
    for (q = 0; q < m; q++) idx.push(q);
    ds = D.slice().sort(function (x, y) { return x - y; });
    for (q = 0; q < m; q++) {  // where each lower end goes in the tree: 1 + those smaller
      var lo = 0, hi = m;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (ds[mid] < D[q]) lo = mid + 1; else hi = mid; }
      rank[q] = lo + 1;
    }
    idx.sort(function (x, y) { return U[x] - U[y] || D[x] - D[y]; });
    for (q = 0; q < m;) {  // a group of equal upper ends: count against the earlier groups, then add
      var e = q;
      while (e < m && U[idx[e]] === U[idx[q]]) e++;
      for (r = q; r < e; r++) {  // crossed: the earlier edges whose lower end is greater
        var lo2 = 0, hi2 = m, le = 0, kk;
        while (lo2 < hi2) { var mid2 = (lo2 + hi2) >> 1; if (ds[mid2] <= D[idx[r]]) lo2 = mid2 + 1; else hi2 = mid2; }
        for (kk = lo2; kk > 0; kk -= kk & -kk) le += tree[kk];
        cross += done - le;
      }
      for (r = q; r < e; r++) { for (var k2 = rank[idx[r]]; k2 <= m; k2 += k2 & -k2) tree[k2]++; done++; }
      q = e;
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
    // edges oriented along the topological order: E, one per pair of children (for the
    // ranks); EP, one per pair of ports where its ends are frames (each its own route, with
    // the offsets of the ports it leaves and enters by, for the ordering)
    var ord = lv.ord, E = [], EP = [], seen = {}, seenP = {};
    for (i = 0; i < lv.edges.length; i++) {
      var s = lv.edges[i][0], d = lv.edges[i][1], pk = lv.edges[i][4] || '';
      if (s === d) continue;
      var rev = ord[s] > ord[d], a = rev ? d : s, b = rev ? s : d, key = a + ',' + b;
      if (seenP[key + '|' + pk] === undefined) {
        seenP[key + '|' + pk] = 1;
        EP.push(rev ? [a, b, lv.edges[i][3] || 0, lv.edges[i][2] || 0, pk] : [a, b, lv.edges[i][2] || 0, lv.edges[i][3] || 0, pk]);
      }
      if (seen[key] !== undefined) continue;
      seen[key] = E.length;
      E.push([a, b]);
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
    function arrange(layer, full) {  // vertices, chains and an ordering for one ranking
    var i, k, l;
    var top = 0;
    for (i = 0; i < n; i++) top = Math.max(top, layer[i]);
    // vertices: children (shifted one layer down when there are ports), ports, dummies
    var shift = lv.framed ? 1 : 0, nl = top + 1 + 2 * shift;
    var vl = [], vw = [], vh = [], up = [], down = [], upOff = [], downOff = [], downFrom = [], chains = [], ckeys = [];
    function vertex(l, w, h) { vl.push(l); vw.push(w); vh.push(h || 0); up.push([]); down.push([]); upOff.push([]); downOff.push([]); downFrom.push([]); return vl.length - 1; }
    for (i = 0; i < n; i++) vertex(layer[i] + shift, lv.w[i], lv.h[i]);
    // an edge as a chain of vertices; offFrom/offTo: where on its ends' borders it meets them
    // (px from the centre), seen by the neighbours' barycentres as a fraction of a position
    var spans = 0;  // dummy points only while they stay few (a bound on the work)
    EP.forEach(function (e) { spans += Math.max(0, layer[e[1]] - layer[e[0]] - 1); });
    var dummies = spans <= 4 * n + 2000;
    function chain(from, to, key, offFrom, offTo) {
      var c = [from], span = vl[to] - vl[from] - 1;
      if (dummies && span <= 400 || from >= n || to >= n) for (var z = vl[from] + 1; z < vl[to]; z++) c.push(vertex(z, DUMMY_W));
      c.push(to);
      var of = 0.8 * (offFrom || 0) / vw[from], ot = 0.8 * (offTo || 0) / vw[to];
      for (var z2 = 0; z2 + 1 < c.length; z2++) {
        down[c[z2]].push(c[z2 + 1]); downOff[c[z2]].push(z2 + 2 === c.length ? ot : 0);
        downFrom[c[z2]].push(z2 === 0 ? of : 0);
        up[c[z2 + 1]].push(c[z2]); upOff[c[z2 + 1]].push(z2 === 0 ? of : 0);
      }
      chains.push(c); ckeys.push(key);
    }
    if (lv.framed) {
      // an in-port per value that enters (all its consumers inside fed from one point), an
      // out-port per child that sends outside
      lv.ins.forEach(function (P, z) {
        var pv = vertex(0, PORT_W);
        P.kids.forEach(function (c, y) { chain(pv, c, 'i' + P.v + ':' + c, 0, lv.inOff[z][y]); });
      });
      lv.outs.forEach(function (c, z) { chain(c, vertex(nl - 1, PORT_W), 'o' + c, lv.outOff[z], 0); });
      // edges against the ranks of a level above leave by the top and enter by the bottom
      lv.ups.forEach(function (c) { chain(vertex(0, PORT_W), c, 'u' + c, 0, 0); });
      lv.downs.forEach(function (P) {
        var pv = vertex(nl - 1, PORT_W);
        P.kids.forEach(function (c) { chain(c, pv, 'd' + P.v + ':' + c, 0, 0); });
      });
    }
    EP.forEach(function (e) { chain(e[0], e[1], e[0] + ',' + e[1] + '|' + e[4], e[2], e[3]); });
    var total = vl.length, layers = [];
    for (l = 0; l < nl; l++) layers.push([]);
    for (k = 0; k < n; k++) layers[vl[byOrd[k]]].push(byOrd[k]);
    for (i = n; i < total; i++) layers[vl[i]].push(i);
    var pos = new Float64Array(total);
    function number(L) { for (var z = 0; z < L.length; z++) pos[L[z]] = z; }
    layers.forEach(number);
    // a frame with many ports keeps them in the order of their keys (the earliest box that
    // sends through each): the frames it talks to then meet it in the same order
    var fixed = !!lv.framed && lv.ins.length + lv.outs.length >= 6;
    var best = order(layers, up, down, pos, number, total, fixed, upOff, downOff, chains, vl, full, downFrom);
    return {nl: nl, vl: vl, vw: vw, vh: vh, up: up, down: down, chains: chains, ckeys: ckeys,
            layers: layers, total: total, best: best, layer: layer};
    }
    // candidate rankings: the longest path, and (up to RANK_MAX children) network simplex,
    // plain and balanced as dot does; each is ordered and the one with the fewest crossings
    // kept (ties: the shorter edges)
    var cands = [layer];
    if (n <= RANK_MAX) {
      var tight = Int32Array.from(layer);
      simplex(n, E, tight, 4 * n + 100);
      var bal = balance(Int32Array.from(tight));
      cands = n <= TRY_MAX && lv.effort ? [bal, tight, layer] : [bal];
    }
    function balance(layer) {
      // a vertex with as many edges in as out may sit on any rank between its neighbours at
      // no cost in length; it takes the least crowded one
      var top0 = 0, count = [], i, k, l, j;
      for (i = 0; i < n; i++) top0 = Math.max(top0, layer[i]);
      for (l = 0; l <= top0; l++) count.push(0);
      for (i = 0; i < n; i++) count[layer[i]]++;
      for (k = 0; k < n; k++) {
        i = byOrd[k];
        if (ins[i].length !== outs[i].length) continue;
        var lo = 0, hi = top0, pick;
        for (j = 0; j < ins[i].length; j++) lo = Math.max(lo, layer[ins[i][j]] + 1);
        for (j = 0; j < outs[i].length; j++) hi = Math.min(hi, layer[outs[i][j]] - 1);
        for (pick = lo, l = lo + 1; l <= hi; l++) if (count[l] < count[pick]) pick = l;
        count[layer[i]]--; count[pick]++; layer[i] = pick;
      }
      return layer;
    }
    // each ranking ordered cheaply (effort 0); the best of them with every start (effort 2)
    var got = null;
    cands.forEach(function (layer) {
      var r = arrange(layer, !lv.effort || cands.length > 1 ? 0 : 2);
      if (!got || r.best < got.best) got = r;
    });
    if (cands.length > 1 && got.best > 0) got = arrange(got.layer, 2);
    var nl = got.nl, vl = got.vl, vw = got.vw, vh = got.vh, up = got.up, down = got.down,
        chains = got.chains, ckeys = got.ckeys, layers = got.layers, total = got.total, layer = got.layer;
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
    var routes = {}, valuePorts = {};  // valuePorts: 'i' or 'd' + value: where its port is
    chains.forEach(function (c, ci) {
      var pts = [], u = c[0], v = c[c.length - 1];
      pts.push(x[u] + dx, (rtop[vl[u]] + rbot[vl[u]]) / 2 + vh[u] / 2, x[u] + dx, rbot[vl[u]]);
      for (var z = 1; z + 1 < c.length; z++) pts.push(x[c[z]] + dx, rtop[vl[c[z]]], x[c[z]] + dx, rbot[vl[c[z]]]);
      pts.push(x[v] + dx, rtop[vl[v]], x[v] + dx, (rtop[vl[v]] + rbot[vl[v]]) / 2 - vh[v] / 2);
      routes[ckeys[ci]] = pts;
      var kc = ckeys[ci].charAt(0), colon = ckeys[ci].indexOf(':');
      if ((kc === 'i' || kc === 'd') && colon > 0) valuePorts[ckeys[ci].slice(0, colon)] = kc === 'i' ? pts[0] : pts[pts.length - 2];
    });
    return {x: X, y: Y, W: W, H: H, routes: routes, valuePorts: valuePorts};
  }

  /* ---- ordering: median and barycentre sweeps with transposition from several starts (the
     given order, depth-first, breadth-first from the top and from the bottom, as dot tries
     more than one), the order with the fewest crossings kept ------------------------------ */
  function order(layers, up, down, pos, number, total, fixedEnds, upOff, downOff, chains, vl, full, downFrom) {
    // fixedEnds: the port layers (first and last) keep the order of their keys
    var nl = layers.length, l, it, lo = fixedEnds ? 1 : 0, hi = fixedEnds ? nl - 2 : nl - 1;
    function count() {
      var c = 0;
      for (var z = 0; z + 1 < nl; z++) c += crossings(layers[z], down, pos, layers[z + 1].length + 1, downFrom, downOff);
      return c;
    }
    if (nl < 2) return 0;
    function snap() { return layers.map(function (L) { return L.slice(); }); }
    var ps = [];
    function sweep(L, nb, median, offs, flip) {
      var len = L.length, key = new Float64Array(len), q, r;
      for (q = 0; q < len; q++) {
        var a = nb[L[q]], o = offs[L[q]], d = a.length;
        if (!d) key[q] = -1;
        else if (d === 1) key[q] = pos[a[0]] + o[0];
        else if (d === 2) key[q] = (pos[a[0]] + o[0] + pos[a[1]] + o[1]) / 2;
        else if (median) {  // dot's weighted median: an even count leans to the denser side
          ps.length = 0;
          for (r = 0; r < d; r++) ps.push(pos[a[r]] + o[r]);
          ps.sort(function (s, t) { return s - t; });
          var m = d >> 1;
          if (d % 2) key[q] = ps[m];
          else {
            var lm = ps[m - 1] - ps[0], rm = ps[d - 1] - ps[m];
            key[q] = lm + rm > 0 ? (ps[m - 1] * rm + ps[m] * lm) / (lm + rm) : (ps[m - 1] + ps[m]) / 2;
          }
        } else {
          var sum = 0;
          for (r = 0; r < d; r++) sum += pos[a[r]] + o[r];
          key[q] = sum / d;
        }
      }
      // vertices without neighbours there keep their place among the others
      for (q = 0; q < len; q++) if (key[q] < 0) key[q] = q ? key[q - 1] : 0;
      // a stable insertion sort (the layer is mostly in order already); equal keys keep
      // their order, or (flip) swap it: a way off a plateau
      var vs = L.slice();
      for (q = 1; q < len; q++) {
        var kq = key[q], vq = vs[q], z = q - 1;
        while (z >= 0 && (key[z] > kq || flip && key[z] === kq)) { key[z + 1] = key[z]; vs[z + 1] = vs[z]; z--; }
        key[z + 1] = kq; vs[z + 1] = vq;
      }
      for (q = 0; q < len; q++) { L[q] = vs[q]; pos[vs[q]] = q; }
    }
    var best = count(), bestOrd = snap();
    var small = total <= 3000, rounds = total > 20000 ? 4 : small ? 24 : 12;
    function improve(n) {  // sweeps from the present order; leaves the best of them
      var mine = count(), mineOrd = snap(), quiet = 0;
      for (it = 0; it < n && mine > 0; it++) {
        var median = it % 4 >= 2, flip = small && it % 8 >= 4;
        if (it % 2 === 0) for (l = Math.max(1, lo); l <= hi; l++) sweep(layers[l], up, median, upOff, flip);
        else for (l = Math.min(nl - 2, hi); l >= lo; l--) sweep(layers[l], down, median, downOff, flip);
        if (small) transpose(layers, up, down, pos, lo, hi, flip, upOff, downOff);  // as dot does, after every sweep
        var c = count();
        if (c < mine) { mine = c; mineOrd = snap(); quiet = 0; } else if (++quiet >= 8) break;
      }
      for (l = 0; l < nl; l++) { layers[l] = mineOrd[l]; number(layers[l]); }
      return mine;
    }
    function polish(c, whole) {  // sifting, transposition (whole: long edges re-placed whole
      for (var r = 0; r < 4 && c > 0; r++) {  // first), while it pays
        if (whole && chains) reroute(layers, down, pos, vl, chains, 1e6);
        sift(layers, up, down, pos, lo, hi, upOff, downOff);
        transpose(layers, up, down, pos, lo, hi, false, upOff, downOff);
        var c2 = count();
        if (c2 >= c) break;
        c = c2;
      }
      return c;
    }
    function keep(c) { if (c < best) { best = c; bestOrd = snap(); } }
    function start(at, pol) {  // each layer in the order a walk met its vertices
      for (l = 0; l < nl; l++) {
        if (fixedEnds && (l === 0 || l === nl - 1)) continue;
        layers[l].sort(function (a, b) { return at[a] - at[b]; });
        number(layers[l]);
      }
      var c = improve(rounds);
      keep(pol ? polish(c, false) : c);
    }
    function walk(first, next, other, bfs, rev) {  // first: the ends to start from, in order
      var seen = new Uint8Array(total), at = new Float64Array(total), n2 = 0, todo = [], head = 0;
      first.forEach(function (v0) {
        todo.push(v0);
        while (head < todo.length) {
          var v = bfs ? todo[head++] : todo.pop();
          if (seen[v]) continue;
          seen[v] = 1; at[v] = n2++;
          var a = next[v], b = bfs ? other[v] : [], z;
          if (bfs) { for (z = 0; z < a.length; z++) if (!seen[a[z]]) todo.push(a[z]); for (z = 0; z < b.length; z++) if (!seen[b[z]]) todo.push(b[z]); }
          else if (rev) { for (z = 0; z < a.length; z++) if (!seen[a[z]]) todo.push(a[z]); }
          else for (z = a.length - 1; z >= 0; z--) if (!seen[a[z]]) todo.push(a[z]);
        }
        if (!bfs) head = todo.length = 0;
      });
      return at;
    }
    function ends(nb) {
      var s = [];
      for (l = 0; l < nl; l++) for (var q = 0; q < layers[l].length; q++) if (!nb[layers[l][q]].length) s.push(layers[l][q]);
      return s;
    }
    // effort (full): 0, the given order and a depth-first one, swept; 1, the given order swept
    // and polished; 2, five more starts, each polished, and long edges re-placed whole
    keep(improve(rounds));
    if (small && full >= 1 && best > 0) keep(polish(best, false));
    if (small && best > 0 && full !== 1) {
      var tops = ends(up), bottoms = ends(down);
      var walks = [function () { return walk(tops, down, up, false, false); },
                   function () { return walk(tops, down, up, false, true); },
                   function () { return walk(tops, down, up, true); },
                   function () { return walk(bottoms, up, down, true); },
                   function () { return walk(bottoms, up, down, false, false); }];
      for (var w = 0; w < (full ? walks.length : 1) && best > 0; w++) start(walks[w](), full);
      if (full) {
        for (l = 0; l < nl; l++) { layers[l] = bestOrd[l].slice(); number(layers[l]); }
        keep(polish(best, true));
      }
    }
    for (l = 0; l < nl; l++) { layers[l] = bestOrd[l]; number(layers[l]); }
    if (best > 0 && small) transpose(layers, up, down, pos, lo, hi, false, upOff, downOff);
    return best;
  }

  // crossings among the edges of u and v (u left of v) towards one neighbouring layer
  function pairCross(nu, nv, pos, ou, ov) {
    if (ou) {
      var c2 = 0;
      for (var a2 = 0; a2 < nu.length; a2++) for (var b2 = 0; b2 < nv.length; b2++) if (pos[nu[a2]] + ou[a2] > pos[nv[b2]] + ov[b2]) c2++;
      return c2;
    }
    var c = 0;
    for (var a = 0; a < nu.length; a++) for (var b = 0; b < nv.length; b++) if (pos[nu[a]] > pos[nv[b]]) c++;
    return c;
  }

  // a long edge's dummy points re-placed all at once: of all the paths through the gaps of
  // the layers it spans, the one that crosses the fewest other edges (a shortest path, layer
  // by layer), taken when it crosses fewer than now. Moving one dummy at a time (sweeps,
  // transposition, sifting) cannot carry a whole skip edge to the other side of a column.
  // budget: the work allowed, in table cells. Returns the crossings removed.
  function reroute(layers, down, pos, vl, chains, budget) {
    var gained = 0;
    chains.forEach(function (c) {
      var k = c.length - 2, s, g, h;
      if (k < 1 || budget <= 0) return;
      var l0 = vl[c[0]], tables = [], at = [], now = 0;
      for (s = 0; s <= k && !now; s++) {  // does it cross anything now? (most do not)
        var pa = pos[c[s]], pb = pos[c[s + 1]], U = layers[l0 + s];
        for (var q0 = 0; q0 < U.length; q0++) {
          if (U[q0] === c[s]) continue;
          var nb0 = down[U[q0]];
          for (var r0 = 0; r0 < nb0.length; r0++) {
            if (nb0[r0] !== c[s + 1] && (q0 < pa) !== (pos[nb0[r0]] < pb)) { now = 1; break; }
          }
        }
      }
      if (!now) return;
      for (s = 0; s <= k; s++) {  // the crossings of segment s for every pair of gaps
        var Lu = layers[l0 + s], Ld = layers[l0 + s + 1], fu = s === 0, fd = s === k;
        var nu = fu ? Lu.length : Lu.length - 1, nd = fd ? Ld.length : Ld.length - 1;
        budget -= (nu + 1) * (nd + 1);
        if (budget <= 0) return;
        var C = new Int32Array((nu + 1) * (nd + 1)), du = pos[c[s]], dd = pos[c[s + 1]];
        for (var q = 0; q < Lu.length; q++) {
          var a = Lu[q];
          if (a === c[s]) continue;
          var ra = fu ? q : q - (q > du ? 1 : 0), nb = down[a];
          for (var r = 0; r < nb.length; r++) {
            if (nb[r] === c[s + 1]) continue;
            var pb = pos[nb[r]], rb = fd ? pb : pb - (pb > dd ? 1 : 0);
            C[(ra + 1) * (nd + 1) + rb + 1]++;
          }
        }
        for (g = 0; g <= nu; g++) for (h = 0; h <= nd; h++) {  // C[g][h]: left of both
          var z = g * (nd + 1) + h;
          if (g) C[z] += C[z - nd - 1];
          if (h) C[z] += C[z - 1];
          if (g && h) C[z] -= C[z - nd - 2];
        }
        tables.push({C: C, nu: nu, nd: nd});
        at.push(du);
      }
      at.push(pos[c[k + 1]]);
      function cross(s, g, h) {
        var T = tables[s], w = T.nd + 1;
        return T.C[g * w + T.nd] + T.C[T.nu * w + h] - 2 * T.C[g * w + h];
      }
      now = 0;
      for (s = 0; s <= k; s++) now += cross(s, at[s], at[s + 1]);
      if (!now) return;
      // shortest path: cost[g] for dummy s at gap g, from the fixed source down
      var cost = [], from = [], prev = [at[0]], pc = [0];
      for (s = 0; s < k; s++) {
        var n2 = tables[s].nd + 1, cs = new Float64Array(n2), fr = new Int32Array(n2);
        for (h = 0; h < n2; h++) {
          cs[h] = Infinity;
          for (var i = 0; i < prev.length; i++) {
            var v = pc[i] + cross(s, prev[i], h);
            if (v < cs[h]) { cs[h] = v; fr[h] = prev[i]; }
          }
        }
        cost.push(cs); from.push(fr);
        prev = []; pc = [];
        for (h = 0; h < n2; h++) { prev.push(h); pc.push(cs[h]); }
      }
      var best = Infinity, bg = 0;
      for (g = 0; g < prev.length; g++) {
        var t = pc[g] + cross(k, g, at[k + 1]);
        if (t < best) { best = t; bg = g; }
      }
      if (best >= now) return;
      gained += now - best;
      for (s = k; s >= 1; s--) {  // move each dummy to its gap
        var L = layers[l0 + s], d = c[s];
        L.splice(pos[d], 1);
        L.splice(bg, 0, d);
        for (var z2 = 0; z2 < L.length; z2++) pos[L[z2]] = z2;
        bg = from[s - 1][bg];
      }
    });
    return gained;
  }

  // sifting: each vertex in turn moves to the place in its layer where its edges cross the
  // fewest others (the neighbouring layers stay), when that is better than where it is
  function sift(layers, up, down, pos, lo, hi, uo, dO) {
    for (var l = lo; l <= hi; l++) {
      var L = layers[l];
      if (L.length < 2) continue;
      L.slice().forEach(function (v) {
        var at = pos[v], q, rest = L.filter(function (u) { return u !== v; });
        var cost = 0, here = 0, best = 0, bestQ = 0;  // relative to v first in the layer
        for (q = 0; q < rest.length; q++) {
          var w = rest[q];
          cost += pairCross(up[w], up[v], pos, uo[w], uo[v]) + pairCross(down[w], down[v], pos, dO[w], dO[v]) -
                  pairCross(up[v], up[w], pos, uo[v], uo[w]) - pairCross(down[v], down[w], pos, dO[v], dO[w]);
          if (q + 1 === at) here = cost;
          if (cost < best) { best = cost; bestQ = q + 1; }
        }
        if (best >= here) return;
        rest.splice(bestQ, 0, v);
        for (q = 0; q < rest.length; q++) { L[q] = rest[q]; pos[rest[q]] = q; }
      });
    }
  }

  // swaps neighbours while that removes crossings; `equal`: also where it leaves as many
  // (dot does so every other pass, to leave a plateau)
  function transpose(layers, up, down, pos, lo, hi, equal, uo, dO) {
    var improved = true, guard = 0;
    while (improved && guard++ < 8) {
      improved = false;
      for (var l = lo; l <= hi; l++) {
        var L = layers[l];
        for (var q = 0; q + 1 < L.length; q++) {
          var u = L[q], v = L[q + 1];
          var now = pairCross(up[u], up[v], pos, uo[u], uo[v]) + pairCross(down[u], down[v], pos, dO[u], dO[v]);
          var swapped = pairCross(up[v], up[u], pos, uo[v], uo[u]) + pairCross(down[v], down[u], pos, dO[v], dO[u]);
          if (swapped < now || equal && swapped === now && now > 0 && guard === 1) {
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
           frames: {parent[], key[], minW[]}; edges: [[s, d, value]] between boxes (the value
           it carries, one in-port of a frame per value)}
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
    var lvEdges = [], ins = [], outs = [], ups = [], downs = [];
    for (j = 0; j <= nf; j++) { lvEdges.push([]); ins.push({}); outs.push({}); ups.push({}); downs.push({}); }
    var plan = req.edges.map(function (e, k) {
      var s = e[0], d = e[1], up1 = [], up2 = [];
      while (dep(s) > dep(d)) { up1.push(s); s = parent[s]; }
      while (dep(d) > dep(s)) { up2.push(d); d = parent[d]; }
      while (parent[s] !== parent[d]) { up1.push(s); s = parent[s]; up2.push(d); d = parent[d]; }
      // a port's key: the order of the earliest box that sends through it, so that the
      // out-ports of one frame and the in-ports of another line up in the same order
      // an edge against the ranks where its ends meet (namespaces that feed each other both
      // ways) leaves its frames by their top border and enters by their bottom one, so that
      // it never has to go round a frame
      var key = ORD[e[0]], back = ORD[s] > ORD[d], P1 = back ? ups : outs, P2 = back ? downs : ins;
      var val = e[2] === undefined ? -1 - k : e[2];  // the value it carries
      up1.forEach(function (v) { var o = P1[parent[v] - nb]; o[local[v]] = Math.min(key, o[local[v]] === undefined ? Infinity : o[local[v]]); });
      up2.forEach(function (v) {
        var P = P2[parent[v] - nb], o = P[val] || (P[val] = {key: Infinity, kids: {}});
        o.key = Math.min(o.key, key); o.kids[local[v]] = 1;
      });
      var L = parent[s] < 0 ? nf : parent[s] - nb;
      // the ports it leaves and enters by, where its ends are frames: its own route there
      // (in views too big for the costlier ordering, one route per pair of children)
      var pk = N > EFFORT_MAX ? '' : (up1.length ? local[up1[up1.length - 1]] : '') + '/' + (up2.length ? val : '');
      lvEdges[L].push([local[s], local[d], s, d, up1[up1.length - 1], up2[up2.length - 1], val, pk]);
      return {up1: up1, up2: up2, s: s, d: d, L: L, back: back, val: val, pk: pk};
    });
    function ports(keys) {  // children with a port, in the order of their keys
      return Object.keys(keys).map(Number).sort(function (a, b) { return keys[a] - keys[b] || a - b; });
    }
    function valuePorts(P) {  // the values with a port, in the order of their keys; each one's children
      return Object.keys(P).map(Number).sort(function (a, b) { return P[a].key - P[b].key || a - b; })
        .map(function (v) { return {v: v, kids: Object.keys(P[v].kids).map(Number).sort(function (a, b) { return a - b; })}; });
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
        return pts ? (side === 'i' || side === 'u' ? pts[0] : pts[pts.length - 2]) - res[F - nb].W / 2 : 0;
      }
      function valuePort(F, side, val) {  // frame F's in-port of a value, from its centre
        if (F < nb) return 0;
        var at = res[F - nb].valuePorts[side + val];
        return at === undefined ? 0 : at - res[F - nb].W / 2;
      }
      function meanPort(F, side) {  // all of a frame's ports of one side, from its centre
        if (F < nb) return 0;
        var sum = 0, cnt = 0, R = res[F - nb].routes;
        for (var k in R) if (k.charAt(0) === side) { sum += side === 'i' ? R[k][0] : R[k][R[k].length - 2]; cnt++; }
        return cnt ? sum / cnt - res[F - nb].W / 2 : 0;
      }
      var edges = lvEdges[f].map(function (e) {
        var back = ORD[e[2]] > ORD[e[3]];
        return [e[0], e[1], e[2] >= nb && e[4] !== undefined ? portX(e[2], back ? 'u' : 'o', e[4]) : 0,
                e[3] >= nb && e[5] !== undefined ? valuePort(e[3], back ? 'd' : 'i', e[6]) : 0, e[7]];
      });
      var lv = {w: ch.map(function (v) { return v < nb ? W[v] : res[v - nb].W; }),
                h: ch.map(function (v) { return v < nb ? H[v] : res[v - nb].H; }),
                ord: ch.map(function (v) { return ORD[v]; }), edges: edges,
                ins: valuePorts(ins[f]), outs: ports(outs[f]), ups: ports(ups[f]), downs: valuePorts(downs[f]),
                effort: N <= EFFORT_MAX, framed: f < nf, minW: f < nf && !horiz ? req.frames.minW[f] : 0, head: hd, foot: ft};
      lv.inOff = lv.ins.map(function (P) { return P.kids.map(function (c) { return valuePort(ch[c], 'i', P.v); }); });
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
      if (!last) return res[lvl].routes[out ? 'o' + local[G] : 'i' + p.val + ':' + local[G]];
      if (ORD[p.s] > ORD[p.d]) return null;
      return res[lvl].routes[local[p.s] + ',' + local[p.d] + '|' + p.pk];
    }
    plan.forEach(function (p) {
      if (p.back) return;  // its ports are on the other borders
      var cs = p.up1.concat([p.s]), cd = p.up2.concat([p.d]), j, pts, port;
      for (j = 1; j < cs.length; j++) {  // [departure x, port x, -1]
        pts = routeOf(cs[j], j === cs.length - 1, p, true);
        port = res[cs[j] - nb].routes['o' + local[cs[j - 1]]];
        if (pts && pts.length > 8 && port) vote(cs[j], [pts[4], port[port.length - 2], -1, -1]);
      }
      for (j = 1; j < cd.length; j++) {  // [approach x, port x, source frame, its port x]
        var last = j === cd.length - 1;
        pts = routeOf(cd[j], last, p, false);
        port = res[cd[j] - nb].routes['i' + p.val + ':' + local[cd[j - 1]]];
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
      // forward: out of each frame by its bottom, the level's route, in by the tops; against
      // the ranks (p.back): out by the tops, the level's route reversed, in by the bottoms
      var all = [], z, back = p.back, a = local[p.s], b = local[p.d];
      p.up1.forEach(function (v) { join(all, piece(parent[v] - nb, (back ? 'u' : 'o') + local[v], back), true); });
      join(all, piece(p.L, (back ? b + ',' + a : a + ',' + b) + '|' + p.pk, back), true);
      for (z = p.up2.length - 1; z >= 0; z--) join(all, piece(parent[p.up2[z]] - nb, (back ? 'd' : 'i') + p.val + ':' + local[p.up2[z]], back), false);
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
