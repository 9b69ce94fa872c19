"""What to draw, shared by the HTML report and the PNGs: charts of overlaid scalar series
(train and test of one metric on one axis, best value marked), histogram heat maps and
image sliders. Everything here is plain numbers, ready for JSON."""
from __future__ import annotations

import math
import re

import numpy as np

from ..errors import UsageError
from .smooth import downsample, smooth

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
_PHASE = re.compile(r"^(?:(train|training)|(test\d*|val|valid|validation|eval))(?:[/_.])(.+)$",
                    re.I)
_LOWER_IS_BETTER = re.compile(r"loss|err|perplex|mae|mse|rmse|nll|wer|cer|dist", re.I)
_NO_BEST = re.compile(r"(^|[/_])(lr|learning_rate|epoch|time|step)$", re.I)
HEAT_STEPS, HEAT_BINS, MAX_IMAGES = 120, 64, 64


def split_phase(tag: str) -> tuple[str, str]:
    """'test/accuracy' -> ('accuracy', 'test'); 'val_loss' -> ('loss', 'test');
    'loss' -> ('loss', 'train')."""
    m = _PHASE.match(tag)
    if not m:
        return tag, "train"
    return m.group(3), "train" if m.group(1) else "test"


def x_values(run, series, x: str):
    """The x coordinate of each point: step, seconds since the run's start, or epoch."""
    if x == "step":
        return series.steps.astype(np.float64), "step"
    if x == "time":
        if series.times is None:
            return series.steps.astype(np.float64), "step"
        start = min(float(s.times[0]) for s in run.scalars.values()
                    if s.times is not None and len(s))
        return series.times - start, "time (s)"
    if x == "epoch":
        ep = run.scalars.get("epoch")
        if ep is None or len(ep) == 0:
            return series.steps.astype(np.float64), "step"
        # a CSV keyed by epoch has steps == epochs; otherwise interpolate epoch over steps
        return np.interp(series.steps, ep.steps, ep.values), "epoch"
    raise UsageError(f"--x must be step, time or epoch (got '{x}')")


def build(runs, smoothing: float = 0.6, x: str = "step", buckets: int = 1500) -> dict:
    colors = {run.name: PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}
    groups = {}
    for run in runs:
        for tag in sorted(run.scalars):
            ser = run.scalars[tag]
            if not len(ser):
                continue
            metric, phase = split_phase(tag)
            xs, xlabel = x_values(run, ser, x)
            sm = smooth(ser.values, smoothing)
            ds = downsample(xs, ser.values, sm, buckets)
            item = {"run": run.name, "tag": tag, "phase": phase, "color": colors[run.name],
                    "n": int(len(ser)), **{k: _list(v) for k, v in ds.items()}}
            best = _best(tag, xs, ser.values)
            if best:
                item["best"] = best
            groups.setdefault(metric, {"title": metric, "xlabel": xlabel, "series": []})
            groups[metric]["series"].append(item)
    hists = []
    for run in runs:
        for tag in sorted(run.histograms):
            h = heatmap(run.histograms[tag])
            if h:
                hists.append({"run": run.name, "tag": tag, **h})
    images = []
    for run in runs:
        for tag in sorted(run.images):
            ims = run.images[tag]
            pick = np.unique(np.linspace(0, len(ims) - 1, min(len(ims), MAX_IMAGES)).round()
                             .astype(int)) if ims else []
            images.append({"run": run.name, "tag": tag,
                           "frames": [(ims[i].step, ims[i].png) for i in pick]})
    return {"scalars": [groups[k] for k in sorted(groups)], "histograms": hists,
            "images": images, "smoothing": smoothing,
            "runs": [{"name": r.name, "color": colors[r.name], "source": r.source}
                     for r in runs]}


def _best(tag, xs, values):
    if _NO_BEST.search(tag):
        return None
    finite = np.isfinite(values)
    if not finite.any():
        return None
    v = np.where(finite, values, np.inf if _LOWER_IS_BETTER.search(tag) else -np.inf)
    i = int(np.argmin(v) if _LOWER_IS_BETTER.search(tag) else np.argmax(v))
    return {"x": float(xs[i]), "y": float(values[i]),
            "mode": "min" if _LOWER_IS_BETTER.search(tag) else "max"}


def heatmap(hists):
    """Histograms over time on one value grid: rows = steps (at most HEAT_STEPS, evenly
    picked), columns = HEAT_BINS value bins, each row scaled to its own maximum."""
    hists = [h for h in hists if len(h.counts) and len(h.edges) == len(h.counts) + 1]
    if not hists:
        return None
    pick = np.unique(np.linspace(0, len(hists) - 1, min(len(hists), HEAT_STEPS)).round()
                     .astype(int))
    hists = [hists[i] for i in pick]
    all_edges = np.concatenate([np.asarray(h.edges, np.float64) for h in hists])
    all_edges = all_edges[np.isfinite(all_edges)]
    lo, hi = float(all_edges.min()), float(all_edges.max())
    if hi <= lo:
        hi = lo + 1.0
    grid = np.linspace(lo, hi, HEAT_BINS + 1)
    rows = []
    for h in hists:
        row = _rebin(np.asarray(h.edges, np.float64), np.asarray(h.counts, np.float64), grid)
        m = row.max()
        rows.append(np.round(row / m, 3).tolist() if m > 0 else row.tolist())
    return {"steps": [h.step for h in hists], "lo": lo, "hi": hi, "rows": rows}


def _rebin(edges, counts, grid):
    """Spread each bin's count over the grid cells it overlaps, in proportion."""
    edges = np.clip(edges, grid[0], grid[-1])
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    return np.diff(np.interp(grid, edges, cum))


def _list(v):
    if v is None:
        return None
    return [float(f"{a:.7g}") if math.isfinite(a) else None
            for a in np.asarray(v, np.float64).tolist()]
