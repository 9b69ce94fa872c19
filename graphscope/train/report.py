"""One offline HTML file: scalar charts (SVG, drag to zoom, double-click to reset),
histogram heat maps (canvas) and image sliders. No network: the script is inline."""
from __future__ import annotations

import base64
import html
import json

from .charts import build

_CSS = """
body{font:13px system-ui,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px}h2{font-size:15px;margin:24px 0 8px}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fafafa;max-width:470px}
.card h3{font-size:13px;margin:0 0 4px}.legend span{margin-right:10px;white-space:nowrap}
svg text{font-size:10px;fill:#555}.tip{font-size:11px;color:#333;min-height:14px}
.runs span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:10px;
height:10px;margin-right:4px;border-radius:2px}img.frame{image-rendering:pixelated;
max-width:320px;min-width:64px;display:block;border:1px solid #ccc;background:#fff}
"""

_JS = r"""
const D = JSON.parse(document.getElementById('data').textContent);
const NS = 'http://www.w3.org/2000/svg';
function el(tag, attrs, parent) { const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }
function ticks(lo, hi, n) { const span = hi - lo || 1, step0 = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0))), r = step0 / mag;
  const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag; const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out; }
function fmt(v) { const a = Math.abs(v); return (a >= 1e5 || (a < 1e-3 && a > 0)) ? v.toExponential(2) : +v.toPrecision(5) + ''; }
function scalarChart(chart, host) {
  const W = 460, H = 260, L = 56, R = 10, T = 10, B = 30;
  const card = document.createElement('div'); card.className = 'card'; host.appendChild(card);
  card.innerHTML = '<h3></h3>'; card.firstChild.textContent = chart.title;
  const svg = el('svg', {width: W, height: H, viewBox: `0 0 ${W} ${H}`}, card);
  const tip = document.createElement('div'); tip.className = 'tip'; card.appendChild(tip);
  const legend = document.createElement('div'); legend.className = 'legend'; card.appendChild(legend);
  for (const s of chart.series) { const sp = document.createElement('span');
    sp.innerHTML = '<i class="sw"></i>'; sp.firstChild.style.background = s.color;
    sp.appendChild(document.createTextNode(s.run + ' · ' + s.tag + (s.best ? ` (${s.best.mode} ${fmt(s.best.y)})` : '')));
    legend.appendChild(sp); }
  let xmin = Infinity, xmax = -Infinity;
  for (const s of chart.series) for (const x of s.x) { if (x < xmin) xmin = x; if (x > xmax) xmax = x; }
  const full = [xmin, xmax]; let dom = full.slice();
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    let ymin = Infinity, ymax = -Infinity;
    for (const s of chart.series) for (let i = 0; i < s.x.length; i++) {
      if (s.x[i] < dom[0] || s.x[i] > dom[1]) continue;
      for (const v of [s.y[i], s.lo ? s.lo[i] : null, s.hi ? s.hi[i] : null, s.s ? s.s[i] : null])
        if (v !== null) { if (v < ymin) ymin = v; if (v > ymax) ymax = v; } }
    if (!isFinite(ymin)) { ymin = 0; ymax = 1; } if (ymax === ymin) { ymin -= 0.5; ymax += 0.5; }
    const pad = (ymax - ymin) * 0.05; ymin -= pad; ymax += pad;
    const xs = v => L + (v - dom[0]) / ((dom[1] - dom[0]) || 1) * (W - L - R);
    const ys = v => T + (1 - (v - ymin) / (ymax - ymin)) * (H - T - B);
    for (const t of ticks(ymin, ymax, 5)) { el('line', {x1: L, x2: W - R, y1: ys(t), y2: ys(t), stroke: '#eee'}, svg);
      el('text', {x: L - 4, y: ys(t) + 3, 'text-anchor': 'end'}, svg).textContent = fmt(t); }
    for (const t of ticks(dom[0], dom[1], 5)) { el('line', {x1: xs(t), x2: xs(t), y1: T, y2: H - B, stroke: '#eee'}, svg);
      el('text', {x: xs(t), y: H - B + 12, 'text-anchor': 'middle'}, svg).textContent = fmt(t); }
    el('text', {x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle'}, svg).textContent = chart.xlabel;
    const clip = 'c' + Math.random().toString(36).slice(2);
    el('rect', {x: L, y: T, width: W - L - R, height: H - T - B}, el('clipPath', {id: clip}, el('defs', {}, svg)));
    const g = el('g', {'clip-path': `url(#${clip})`}, svg);
    for (const s of chart.series) {
      const idx = []; for (let i = 0; i < s.x.length; i++) if (s.x[i] >= dom[0] - 1e-9 * Math.abs(dom[0]) && s.x[i] <= dom[1]) idx.push(i);
      if (i0(idx) > 0) idx.unshift(idx[0] - 1); if (idx.length && idx[idx.length - 1] < s.x.length - 1) idx.push(idx[idx.length - 1] + 1);
      const dash = s.phase === 'test' ? '5,3' : '';
      if (s.lo) { let p = ''; for (const i of idx) if (s.hi[i] !== null) p += `${xs(s.x[i])},${ys(s.hi[i])} `;
        for (const i of idx.slice().reverse()) if (s.lo[i] !== null) p += `${xs(s.x[i])},${ys(s.lo[i])} `;
        el('polygon', {points: p, fill: s.color, 'fill-opacity': 0.15, stroke: 'none'}, g); }
      const line = (arr, op, w) => { let d = '', pen = 'M';
        for (const i of idx) { if (arr[i] === null) { pen = 'M'; continue; } d += `${pen}${xs(s.x[i]).toFixed(1)},${ys(arr[i]).toFixed(1)}`; pen = 'L'; }
        el('path', {d: d, fill: 'none', stroke: s.color, 'stroke-opacity': op, 'stroke-width': w, 'stroke-dasharray': dash}, g); };
      if (s.s) { line(s.y, 0.3, 1); line(s.s, 1, 1.6); } else line(s.y, 1, 1.6);
      if (s.best && s.best.x >= dom[0] && s.best.x <= dom[1]) {
        el('circle', {cx: xs(s.best.x), cy: ys(s.best.y), r: 4, fill: '#fff', stroke: s.color, 'stroke-width': 2}, g);
        el('title', {}, g.lastChild).textContent = `best (${s.best.mode}) ${s.tag}: ${fmt(s.best.y)} at ${fmt(s.best.x)}`; } }
    const sel = el('rect', {x: 0, y: T, width: 0, height: H - T - B, fill: '#08f', 'fill-opacity': 0.15}, svg);
    const hit = el('rect', {x: L, y: T, width: W - L - R, height: H - T - B, fill: 'transparent'}, svg);
    let x0 = null; const inv = px => dom[0] + (px - L) / (W - L - R) * (dom[1] - dom[0]);
    const px = e => { const r = svg.getBoundingClientRect(); return (e.clientX - r.left) * W / r.width; };
    hit.addEventListener('mousedown', e => { x0 = px(e); });
    hit.addEventListener('mousemove', e => { const p = px(e);
      if (x0 !== null) { sel.setAttribute('x', Math.min(x0, p)); sel.setAttribute('width', Math.abs(p - x0)); }
      const xv = inv(p); tip.textContent = chart.xlabel + ' ' + fmt(xv) + ': ' + chart.series.map(s => {
        let b = 0; for (let i = 0; i < s.x.length; i++) if (Math.abs(s.x[i] - xv) < Math.abs(s.x[b] - xv)) b = i;
        const v = s.s ? s.s[b] : s.y[b]; return s.run + '/' + s.tag + ' ' + (v === null ? '-' : fmt(v)); }).join('  '); });
    hit.addEventListener('mouseup', e => { const p = px(e);
      if (x0 !== null && Math.abs(p - x0) > 4) dom = [inv(Math.min(x0, p)), inv(Math.max(x0, p))];
      x0 = null; draw(); });
    hit.addEventListener('dblclick', () => { dom = full.slice(); draw(); });
  }
  function i0(a) { return a.length ? a[0] : 0; }
  draw(); }
function heat(h, host) {
  const card = document.createElement('div'); card.className = 'card'; host.appendChild(card);
  card.innerHTML = '<h3></h3>'; card.firstChild.textContent = h.run + ' · ' + h.tag;
  const W = 460, H = 220, cv = document.createElement('canvas'); cv.width = W; cv.height = H; card.appendChild(cv);
  const c = cv.getContext('2d'), L = 50, B = 20, nb = h.rows[0].length, ns = h.rows.length;
  const cw = (W - L) / nb, rh = (H - B) / ns;
  h.rows.forEach((row, r) => row.forEach((v, b) => { const k = Math.round(255 * (1 - v));
    c.fillStyle = `rgb(${k},${Math.round(k * 0.9 + 20)},255)`; c.fillRect(L + b * cw, r * rh, cw + 0.5, rh + 0.5); }));
  c.fillStyle = '#555'; c.font = '10px sans-serif'; c.textAlign = 'right';
  c.fillText('step ' + h.steps[0], L - 2, 10); c.fillText('' + h.steps[ns - 1], L - 2, H - B);
  c.textAlign = 'left'; c.fillText(fmt(h.lo), L, H - 6); c.textAlign = 'right'; c.fillText(fmt(h.hi), W, H - 6);
  const tip = document.createElement('div'); tip.className = 'tip'; card.appendChild(tip);
  cv.addEventListener('mousemove', e => { const r = cv.getBoundingClientRect();
    const row = Math.min(ns - 1, Math.max(0, Math.floor((e.clientY - r.top) * H / r.height / rh)));
    tip.textContent = 'step ' + h.steps[row]; }); }
function slider(im, host) {
  const card = document.createElement('div'); card.className = 'card'; host.appendChild(card);
  card.innerHTML = '<h3></h3>'; card.firstChild.textContent = im.run + ' · ' + im.tag;
  const img = document.createElement('img'); img.className = 'frame'; card.appendChild(img);
  const inp = document.createElement('input'); inp.type = 'range'; inp.min = 0; inp.max = im.frames.length - 1;
  inp.value = im.frames.length - 1; card.appendChild(inp);
  const lab = document.createElement('div'); lab.className = 'tip'; card.appendChild(lab);
  const show = () => { const f = im.frames[+inp.value]; img.src = f[1]; lab.textContent = 'step ' + f[0]; };
  inp.addEventListener('input', show); show(); }
const runs = document.getElementById('runs');
for (const r of D.runs) { const sp = document.createElement('span'); sp.innerHTML = '<i class="sw"></i>';
  sp.firstChild.style.background = r.color; sp.appendChild(document.createTextNode(r.name + ' (' + r.source + ')')); runs.appendChild(sp); }
for (const c of D.scalars) scalarChart(c, document.getElementById('scalars'));
for (const h of D.histograms) heat(h, document.getElementById('histograms'));
for (const im of D.images) slider(im, document.getElementById('images'));
for (const id of ['scalars', 'histograms', 'images']) if (!document.getElementById(id).children.length)
  document.getElementById(id + '-h').style.display = 'none';
"""


def render_html(runs, smoothing: float = 0.6, x: str = "step", title: str = "Training") -> str:
    data = build(runs, smoothing, x)
    for im in data["images"]:
        im["frames"] = [[step, _data_uri(blob)] for step, blob in im["frames"]]
    # '</' cannot close the script element early; JSON stays valid with '<\/'
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("</", "<\\/")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1><div class=\"runs\" id=\"runs\"></div>\n"
            f"<p class=\"tip\">smoothing {smoothing:g} (TensorBoard's debiased EMA); drag on a "
            f"chart to zoom, double-click to reset; shaded band: min/max of the raw points "
            f"behind each displayed point.</p>\n"
            f"<h2 id=\"scalars-h\">Scalars</h2><div class=\"grid\" id=\"scalars\"></div>\n"
            f"<h2 id=\"histograms-h\">Histograms</h2><div class=\"grid\" id=\"histograms\"></div>\n"
            f"<h2 id=\"images-h\">Images</h2><div class=\"grid\" id=\"images\"></div>\n"
            f"<script type=\"application/json\" id=\"data\">{payload}</script>\n"
            f"<script>{_JS}</script></body></html>\n")


def _data_uri(blob: bytes) -> str:
    kind = ("png" if blob[:8] == b"\x89PNG\r\n\x1a\n" else "gif" if blob[:3] == b"GIF"
            else "jpeg")
    return f"data:image/{kind};base64," + base64.b64encode(blob).decode("ascii")
