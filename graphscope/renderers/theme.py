"""Colours and shapes per op category, shared by every renderer (DOT, Mermaid, HTML)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.ops import category, schema


@dataclass(frozen=True)
class Style:
    fill: str
    border: str
    font: str
    shape: str = "box"      # Graphviz shape; Mermaid and HTML map it to their own


# Netron-like palette: weighted layers blue, activations red, pooling green, and so on.
DEFAULT = {
    "input":         Style("#e8f1fb", "#5b8fc9", "#1b3a5c", "ellipse"),
    "output":        Style("#e8f1fb", "#5b8fc9", "#1b3a5c", "ellipse"),
    "layer":         Style("#3b6ea8", "#274b73", "#ffffff"),
    "activation":    Style("#8c2f1d", "#5e1f13", "#ffffff"),
    "pool":          Style("#2f6f3e", "#1f4a29", "#ffffff"),
    "normalization": Style("#3f5f4f", "#2a4035", "#ffffff"),
    "dropout":       Style("#6b5d4f", "#4a4037", "#ffffff"),
    "elementwise":   Style("#5a4a8a", "#3d3260", "#ffffff"),
    "shape":         Style("#6d4c2f", "#4a3320", "#ffffff"),
    "tensor":        Style("#7a5a36", "#533d25", "#ffffff"),
    "reduce":        Style("#4d6d8a", "#34495e", "#ffffff"),
    "recurrent":     Style("#2f5f6f", "#1f404a", "#ffffff"),
    "attention":     Style("#7a2f6a", "#521f47", "#ffffff"),
    "control":       Style("#555555", "#333333", "#ffffff", "hexagon"),
    "constant":      Style("#dddddd", "#999999", "#333333"),
    "custom":        Style("#ffffff", "#888888", "#222222", "box3d"),
    # a layer type graphscope does not know (no rule, shape unknown): amber, red border
    "unknown":       Style("#fff3cd", "#c0392b", "#6b2a1f", "box3d"),
    "group":         Style("#f4f4f4", "#666666", "#222222", "box3d"),
    "blob":          Style("#eeeeee", "#999999", "#333333", "octagon"),
    "cluster":       Style("#fafafa", "#bbbbbb", "#555555"),
    "edge":          Style("#555555", "#555555", "#444444"),
}

# Caffe's python/draw_net.py: convolutions red, pooling orange, inner products purple, every
# other layer cornflower blue, blobs grey octagons.
_CAFFE_LAYER = Style("#6495ED", "#000000", "#000000")
CAFFE = {**{k: _CAFFE_LAYER for k in DEFAULT},
         **{k: DEFAULT[k] for k in ("group", "cluster", "edge")},
         "input": Style("#E0E0E0", "#000000", "#000000", "octagon"),
         "output": Style("#E0E0E0", "#000000", "#000000", "octagon"),
         "blob": Style("#E0E0E0", "#000000", "#000000", "octagon"),
         "unknown": DEFAULT["unknown"],
         **{k: Style("#FF5050", "#000000", "#000000") for k in ("Conv", "ConvTranspose")},
         **{k: Style("#FF9900", "#000000", "#000000") for k in (
             "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool", "caffe.Pooling")},
         **{k: Style("#CC33FF", "#000000", "#000000") for k in ("Gemm", "caffe.InnerProduct")}}

THEMES: dict[str, dict[str, Style]] = {"default": DEFAULT, "caffe": CAFFE}


def style_for(op_or_kind: str, theme: str = "default") -> Style:
    """Style for a box kind ('input', 'group', ...) or a canonical op name."""
    palette = THEMES.get(theme, DEFAULT)
    if op_or_kind in palette:
        return palette[op_or_kind]
    if op_or_kind.startswith("caffe.") and schema(op_or_kind) is None:
        return palette["unknown"]  # a Caffe layer type graphscope has no rule for
    return palette.get(category(op_or_kind), palette["custom"])
