"""The diff's text summary (stdout of `graphscope diff`)."""
from __future__ import annotations


def _names(names: list[str]) -> str:
    return "+".join(names)


def _change_line(p: dict) -> str:
    c = p["changes"]
    parts = []
    if "op" in c:
        parts.append(f"op {c['op'][0]} -> {c['op'][1]}")
    for k, (x, y) in c.get("attrs", {}).items():  # None: absent, or at its default
        parts.append(f"{k} {'default' if x is None else x} -> {'default' if y is None else y}")
    if "weight_shapes" in c:
        parts.append(f"weights {c['weight_shapes'][0]} -> {c['weight_shapes'][1]}")
    if "params" in c:
        parts.append(f"params {c['params'][0]} -> {c['params'][1]}")
    for key in ("inputs", "outputs"):
        if key in c:
            parts.append(f"{key} {_shapes(c[key][0])} -> {_shapes(c[key][1])}")
    if "weights" in c:
        w = p.get("weights", {})
        parts.append("weights differ: " + ", ".join(
            f"{n} (max abs {_num(w[n]['max_abs'])}, rel {_num(w[n]['max_rel'])})"
            for n in c["weights"]))
    return "; ".join(parts)


def _num(x) -> str:
    return "?" if x is None else f"{x:.3g}"


def _shapes(shapes) -> str:
    return ", ".join("?" if s is None else "x".join("?" if d is None else str(d) for d in s)
                     for s in shapes) or "-"


def summary_text(result, limit: int = 40) -> str:
    s = result.summary
    a, b = result.side_a, result.side_b
    lines = [f"A: {a['path'] or a['name']} ({a['format']}, {a['nodes']} nodes)",
             f"B: {b['path'] or b['name']} ({b['format']}, {b['nodes']} nodes)",
             f"{s['pairs']} matched ({s['groups']} groups): {s['same']} same, {s['changed']} "
             f"changed, {s['shapes']} shapes only; {s['only_a']} only in A, {s['only_b']} "
             f"only in B"]
    shown = 0
    for p in result.pairs:
        if p["status"] == "same":
            continue
        if shown == limit:
            lines.append("  ...")
            break
        mark = "~" if p["status"] == "changed" else "."
        name = _names(p["a"]) if p["a"] == p["b"] else f"{_names(p['a'])} = {_names(p['b'])}"
        lines.append(f"{mark} {name}: {_change_line(p)}")
        shown += 1
    for mark, names in (("-", result.only_a), ("+", result.only_b)):
        for i, n in enumerate(names):
            if i == limit:
                lines.append(f"{mark} ... and {len(names) - limit} more")
                break
            lines.append(f"{mark} {n}")
    if result.weights:
        entries = [e for p in result.pairs for k, e in p.get("weights", {}).items()
                   if k not in ("only_a", "only_b")]
        differ = sum(e["equal"] is False for e in entries)
        unknown = sum(e["equal"] is None for e in entries)
        lines.append(f"weights: {len(entries)} compared, {differ} differ"
                     + (f", {unknown} unknown (no weight data)" if unknown else ""))
    return "\n".join(lines) + "\n"
