"""--png: each chart as a PNG image, drawn with Pillow (which tensorboard installs)."""
from __future__ import annotations

import io
import math
import os
import re

from ..errors import require
from ..fileio import write_atomic
from .charts import build

W, H, L, R, T, B = 800, 450, 80, 20, 36, 44


def write_pngs(runs, out_dir: str, smoothing: float = 0.6, x: str = "step") -> list[str]:
    """Write one PNG per scalar chart and per histogram heat map; return the paths."""
    require("PIL", "train", "PNG output of `graphscope train`")
    data = build(runs, smoothing, x, buckets=W)
    paths, used = [], set()
    for chart in data["scalars"]:
        paths.append(_save(out_dir, "scalar-" + chart["title"], _scalar_png(chart), used))
    for h in data["histograms"]:
        paths.append(_save(out_dir, f"hist-{h['run']}-{h['tag']}", _heat_png(h), used))
    return paths


def _save(out_dir, stem, blob, used):
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "chart"
    name, k = slug, 2
    while name in used:
        name, k = f"{slug}-{k}", k + 1
    used.add(name)
    return str(write_atomic(os.path.join(out_dir, name + ".png"), blob))


def _rgb(hexcolor, alpha=1.0):
    r, g, b = (int(hexcolor[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(round(255 - (255 - c) * alpha) for c in (r, g, b))


def _ticks(lo, hi, n=6):
    span = (hi - lo) or 1.0
    step0 = span / n
    mag = 10 ** math.floor(math.log10(step0))
    r = step0 / mag
    step = (1 if r < 1.5 else 2 if r < 3 else 5 if r < 7 else 10) * mag
    t, out = math.ceil(lo / step) * step, []
    while t <= hi + step * 1e-9:
        out.append(t)
        t += step
    return out


def _fmt(v):
    a = abs(v)
    return f"{v:.2e}" if a >= 1e5 or 0 < a < 1e-3 else f"{v:.5g}"


def _scalar_png(chart) -> bytes:
    from PIL import Image, ImageDraw, ImageFont
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    xs_all = [v for s in chart["series"] for v in s["x"]]
    ys_all = [v for s in chart["series"] for key in ("y", "lo", "hi", "s") if s.get(key)
              for v in s[key] if v is not None]
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = (min(ys_all), max(ys_all)) if ys_all else (0.0, 1.0)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    sx = lambda v: L + (v - x0) / ((x1 - x0) or 1) * (W - L - R)  # noqa: E731
    sy = lambda v: T + (1 - (v - y0) / (y1 - y0)) * (H - T - B)  # noqa: E731
    for t in _ticks(y0, y1):
        d.line([(L, sy(t)), (W - R, sy(t))], fill=(235, 235, 235))
        d.text((L - 4, sy(t)), _fmt(t), fill=(80, 80, 80), font=font, anchor="rm")
    for t in _ticks(x0, x1):
        d.line([(sx(t), T), (sx(t), H - B)], fill=(235, 235, 235))
        d.text((sx(t), H - B + 4), _fmt(t), fill=(80, 80, 80), font=font, anchor="ma")
    d.rectangle([L, T, W - R, H - B], outline=(150, 150, 150))
    d.text((W / 2, 8), chart["title"], fill=(20, 20, 20), font=font, anchor="ma")
    d.text((W / 2, H - 14), chart["xlabel"], fill=(80, 80, 80), font=font, anchor="ma")
    for s in chart["series"]:
        if s.get("lo"):
            pts = [(sx(x), sy(h)) for x, h in zip(s["x"], s["hi"]) if h is not None]
            pts += [(sx(x), sy(lo)) for x, lo in reversed(list(zip(s["x"], s["lo"])))
                    if lo is not None]
            if len(pts) >= 3:
                d.polygon(pts, fill=_rgb(s["color"], 0.18))
    for s in chart["series"]:
        dashed = s["phase"] == "test"
        if s.get("s"):
            _polyline(d, s["x"], s["y"], sx, sy, _rgb(s["color"], 0.35), 1, False)
            _polyline(d, s["x"], s["s"], sx, sy, _rgb(s["color"]), 2, dashed)
        else:
            _polyline(d, s["x"], s["y"], sx, sy, _rgb(s["color"]), 2, dashed)
        if s.get("best"):
            bx, by = sx(s["best"]["x"]), sy(s["best"]["y"])
            d.ellipse([bx - 5, by - 5, bx + 5, by + 5], outline=_rgb(s["color"]), width=2,
                      fill="white")
    ly = T + 4
    for s in chart["series"]:
        label = f"{s['run']} · {s['tag']}"
        if s.get("best"):
            label += f"  ({s['best']['mode']} {_fmt(s['best']['y'])})"
        d.line([(W - R - 230, ly + 6), (W - R - 210, ly + 6)], fill=_rgb(s["color"]), width=3)
        d.text((W - R - 205, ly), label, fill=(40, 40, 40), font=font)
        ly += 14
    return _encode(img)


def _polyline(d, xs, ys, sx, sy, color, width, dashed):
    seg = []
    for x, y in zip(xs, ys):
        if y is None:
            _flush(d, seg, color, width, dashed)
            seg = []
        else:
            seg.append((sx(x), sy(y)))
    _flush(d, seg, color, width, dashed)


def _flush(d, seg, color, width, dashed):
    if len(seg) < 2:
        return
    if not dashed:
        d.line(seg, fill=color, width=width, joint="curve")
        return
    for i in range(0, len(seg) - 1, 2):    # every other segment: a dashed look
        d.line(seg[i:i + 2], fill=color, width=width)


def _heat_png(h) -> bytes:
    from PIL import Image, ImageDraw, ImageFont
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    rows = h["rows"]
    nb, ns = len(rows[0]), len(rows)
    cw, rh = (W - L - R) / nb, (H - T - B) / ns
    for r, row in enumerate(rows):
        for b, v in enumerate(row):
            k = round(255 * (1 - v))
            d.rectangle([L + b * cw, T + r * rh, L + (b + 1) * cw, T + (r + 1) * rh],
                        fill=(k, round(k * 0.9 + 20), 255))
    d.text((W / 2, 8), f"{h['run']} · {h['tag']}", fill=(20, 20, 20), font=font, anchor="ma")
    d.text((L - 4, T), f"step {h['steps'][0]}", fill=(80, 80, 80), font=font, anchor="ra")
    d.text((L - 4, H - B), f"{h['steps'][-1]}", fill=(80, 80, 80), font=font, anchor="rd")
    d.text((L, H - B + 4), _fmt(h["lo"]), fill=(80, 80, 80), font=font)
    d.text((W - R, H - B + 4), _fmt(h["hi"]), fill=(80, 80, 80), font=font, anchor="ra")
    return _encode(img)


def _encode(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
