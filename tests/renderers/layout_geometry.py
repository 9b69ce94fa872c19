"""Geometry of a drawn view, shared by the layout tests and benchmarks/bench_layout.py.

Reads the viewer's `boxes()` / `edges()` hook output; checks overlaps, frames and edge routes;
counts edge crossings, ours and Graphviz dot's on the same visible graph (`dot -Tjson`)."""
from __future__ import annotations

import json
import subprocess

import numpy as np

EPS = 0.5  # px: touching borders are not overlaps


def inside_ns(ns: str, frame_ns: str) -> bool:
    return ns == frame_ns or ns.startswith(frame_ns + "/")


def box_problems(boxes: dict) -> list[str]:
    """Overlaps between boxes that are not nested (a frame and what its namespace holds), and
    boxes outside a frame of their namespace. [] when the view is clean."""
    names = list(boxes)
    r = np.array([[boxes[n]["x"], boxes[n]["y"], boxes[n]["x"] + boxes[n]["w"],
                   boxes[n]["y"] + boxes[n]["h"]] for n in names], dtype=float)
    frames = [i for i, n in enumerate(names) if boxes[n]["kind"] == "frame"]
    ns = [boxes[n]["ns"] for n in names]
    is_frame = np.array([boxes[n]["kind"] == "frame" for n in names])
    problems = []
    by_y = np.argsort(r[:, 1], kind="stable")  # sweep down: only boxes that meet in y
    ys = r[by_y, 1]
    for q, i in enumerate(by_y):
        j = by_y[q + 1:np.searchsorted(ys, r[i, 3] - EPS, side="left")]
        ov = ((np.minimum(r[i, 2], r[j, 2]) - np.maximum(r[i, 0], r[j, 0]) > EPS)
              & (np.minimum(r[i, 3], r[j, 3]) - np.maximum(r[i, 1], r[j, 1]) > EPS))
        for k in j[ov]:
            if any(is_frame[a] and inside_ns(ns[b], ns[a]) for a, b in ((i, k), (k, i))):
                continue  # nested: a frame and what its namespace holds (checked below)
            problems.append(f"overlap: {names[i]!r} and {names[k]!r}")
    frame_of = {ns[f]: f for f in frames}
    for i, n in enumerate(names):  # inside every frame of its namespace and the ones above
        parts = ns[i].split("/") if ns[i] else []
        for k in range(1, len(parts) + 1):
            f = frame_of.get("/".join(parts[:k]))
            if f is not None and f != i and not (
                    r[i, 0] >= r[f, 0] - EPS and r[i, 1] >= r[f, 1] - EPS
                    and r[i, 2] <= r[f, 2] + EPS and r[i, 3] <= r[f, 3] + EPS):
                problems.append(f"{n!r} outside its frame {names[f]!r}")
    return problems


def _hits_interior(p, q, rect, shrink=1.0) -> bool:
    """Does segment p-q pass through the rectangle shrunk by `shrink` (Liang-Barsky)?"""
    x0, y0, x1, y1 = rect[0] + shrink, rect[1] + shrink, rect[2] - shrink, rect[3] - shrink
    if x0 >= x1 or y0 >= y1:
        return False
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for d, lo, hi, v in ((dx, x0, x1, p[0]), (dy, y0, y1, p[1])):
        if abs(d) < 1e-12:
            if not lo < v < hi:
                return False
            continue
        a, b = (lo - v) / d, (hi - v) / d
        a, b = min(a, b), max(a, b)
        t0, t1 = max(t0, a), min(t1, b)
        if t0 >= t1:
            return False
    return True


def edge_problems(boxes: dict, edges: list[dict]) -> list[str]:
    """Edges that run through a box that is not one of their ends, or through a frame that
    holds neither end, or that cross a frame's border more than once."""
    rects = {n: (b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]) for n, b in boxes.items()}
    frames = [n for n, b in boxes.items() if b["kind"] == "frame"]
    leaves = [n for n, b in boxes.items() if b["kind"] != "frame"]
    problems = []
    for e in edges:
        pts, ends = e["points"], (e["from"], e["to"])
        segs = list(zip(pts, pts[1:]))
        lo = np.min(pts, axis=0)
        hi = np.max(pts, axis=0)
        for n in leaves:
            r = rects[n]
            if n in ends or r[0] > hi[0] or r[2] < lo[0] or r[1] > hi[1] or r[3] < lo[1]:
                continue
            if any(_hits_interior(p, q, r) for p, q in segs):
                problems.append(f"edge {ends} runs through {n!r}")
        for f in frames:
            holds = [inside_ns(boxes[x]["ns"], boxes[f]["ns"]) for x in ends]
            r = rects[f]
            if not any(holds):
                if any(_hits_interior(p, q, r) for p, q in segs):
                    problems.append(f"edge {ends} runs through frame {f!r}")
            elif not all(holds):  # one end inside: the route crosses the border once
                state = [_where(p, r) for p in pts]
                seq = [s for s in state if s]
                changes = sum(a != b for a, b in zip(seq, seq[1:]))
                if changes > 1:
                    problems.append(f"edge {ends} crosses frame {f!r} {changes} times")
    return problems


def _where(p, r, eps=1.0):
    if r[0] + eps < p[0] < r[2] - eps and r[1] + eps < p[1] < r[3] - eps:
        return "in"
    if p[0] < r[0] - eps or p[0] > r[2] + eps or p[1] < r[1] - eps or p[1] > r[3] + eps:
        return "out"
    return ""  # on the border


def crossings(edges: list[dict]) -> int:
    """Points where two edge routes cross properly, over pairs of edges with no end in common
    (edges that share a box meet there by design)."""
    segs, owner = [], []
    for k, e in enumerate(edges):
        pts = e["points"]
        for p, q in zip(pts, pts[1:]):
            if p != q:
                segs.append((p[0], p[1], q[0], q[1]))
                owner.append(k)
    if not segs:
        return 0
    s = np.array(segs, dtype=float)
    owner = np.array(owner)
    ends = [(e["from"], e["to"]) for e in edges]
    ids = {n: i for i, n in enumerate(sorted({n for p in ends for n in p}))}
    ef = np.array([ids[a] for a, _ in ends])
    et = np.array([ids[b] for _, b in ends])
    total = 0
    # sweep down the segments sorted by their top: only those that meet in y are compared
    order = np.argsort(np.minimum(s[:, 1], s[:, 3]), kind="stable")
    s, owner = s[order], owner[order]
    top = np.minimum(s[:, 1], s[:, 3])
    bottom = np.maximum(s[:, 1], s[:, 3])
    for i in range(len(s)):
        j = np.arange(i + 1, np.searchsorted(top, bottom[i], side="right"))
        j = j[owner[j] != owner[i]]
        a, b = owner[i], owner[j]
        share = (ef[b] == ef[a]) | (ef[b] == et[a]) | (et[b] == ef[a]) | (et[b] == et[a])
        j = j[~share]
        if not len(j):
            continue
        p, r = s[i, :2], s[i, 2:] - s[i, :2]
        q, t = s[j, :2], s[j, 2:] - s[j, :2]
        den = r[0] * t[:, 1] - r[1] * t[:, 0]
        ok = np.abs(den) > 1e-9
        qp = q - p
        u = np.where(ok, (qp[:, 0] * t[:, 1] - qp[:, 1] * t[:, 0]) / np.where(ok, den, 1), -1)
        v = np.where(ok, (qp[:, 0] * r[1] - qp[:, 1] * r[0]) / np.where(ok, den, 1), -1)
        e = 1e-6
        total += int(np.sum(ok & (u > e) & (u < 1 - e) & (v > e) & (v < 1 - e)))
    return total


def to_dot(boxes: dict, edges: list[dict], rankdir: str = "TB") -> tuple[str, list[str]]:
    """The visible graph as DOT: boxes of the same size (1 px = 1 pt), frames as nested
    clusters, the same node and rank separation as the viewer."""
    names = [n for n, b in boxes.items() if b["kind"] != "frame"]
    frames = sorted((n for n, b in boxes.items() if b["kind"] == "frame"),
                    key=lambda n: boxes[n]["ns"].count("/"))
    nid = {n: f"n{i}" for i, n in enumerate(names)}
    frame_of = {boxes[f]["ns"]: f for f in frames}

    def home(ns):  # the innermost frame whose namespace holds ns (None: the top level)
        parts = ns.split("/") if ns else []
        for k in range(len(parts), 0, -1):
            f = frame_of.get("/".join(parts[:k]))
            if f is not None:
                return f
        return None
    content = {f: [] for f in frames}
    content[None] = []
    for n in names:
        content[home(boxes[n]["ns"])].append(("box", n))
    for f in frames:
        ns = boxes[f]["ns"]
        content[home(ns.rsplit("/", 1)[0] if "/" in ns else "")].append(("frame", f))
    lines = [f"digraph G {{ rankdir={rankdir}; nodesep={24 / 72:.3f}; ranksep={44 / 72:.3f};",
             'node [shape=box, fixedsize=true, label=""];']

    def emit(key, indent):
        for kind, n in content[key]:
            if kind == "box":
                b = boxes[n]
                lines.append(f'{indent}{nid[n]} [width={b["w"] / 72:.3f}, height={b["h"] / 72:.3f}];')
            else:
                lines.append(f"{indent}subgraph cluster_{len(lines)} {{")
                emit(n, indent + "  ")
                lines.append(f"{indent}}}")
    emit(None, "")
    for e in edges:
        lines.append(f"{nid[e['from']]} -> {nid[e['to']]};")
    lines.append("}")
    return "\n".join(lines), names


def _bezier(points: list, steps: int = 8) -> list:
    out = [points[0]]
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = (np.array(points[i + k], dtype=float) for k in range(4))
        for t in np.linspace(0, 1, steps + 1)[1:]:
            out.append(list((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1
                            + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3))
    return out


def dot_edges(boxes: dict, edges: list[dict], rankdir: str = "TB", timeout: float = 60):
    """dot's routes for the same visible graph: [{from, to, points}], from `dot -Tjson`'s
    own coordinates (each spline sampled). None when dot takes longer than `timeout`."""
    text, names = to_dot(boxes, edges, rankdir)
    try:
        out = subprocess.run(["dot", "-Tjson"], input=text, capture_output=True, text=True,
                             timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    doc = json.loads(out)
    gvid = {o["_gvid"]: o["name"] for o in doc.get("objects", [])}
    back = {f"n{i}": n for i, n in enumerate(names)}
    routes = []
    for e in doc.get("edges", []):
        pts = []
        for op in e.get("_draw_", []):
            if op.get("op") in ("b", "B"):
                pts.extend(_bezier(op["points"]))
        routes.append({"from": back[gvid[e["tail"]]], "to": back[gvid[e["head"]]],
                       "points": pts})
    return routes
