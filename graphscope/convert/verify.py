"""Layer-by-layer comparison of a source graph and its conversion, on the same inputs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph

HINTS = {"LRN": "LRN conventions differ between frameworks (alpha scaled by size or not)",
         "MaxPool": "pooling output rounding (ceil vs floor) or padding",
         "AveragePool": "average-pool divisor at the borders (count_include_pad)",
         "BatchNormalization": "BatchNorm epsilon, or a missing scale factor / Scale layer",
         "Gemm": "flattening order before the fully connected layer (NCHW vs NHWC)",
         "Conv": "weights, groups or padding of this convolution",
         "ConvTranspose": "deconvolution padding / output_padding or group layout",
         "Resize": "interpolation mode or coordinate transformation",
         "Softmax": "softmax axis"}


@dataclass
class LayerDiff:
    name: str
    node: str
    op: str
    max_abs: float
    max_rel: float
    ok: bool


@dataclass
class VerifyReport:
    layers: list[LayerDiff]
    rtol: float
    atol: float
    compared_outputs: int
    missing: list[str] = field(default_factory=list)
    reference: str = "onnxruntime"  # what ran the source side

    @property
    def first_divergence(self) -> LayerDiff | None:
        return next((d for d in self.layers if not d.ok), None)

    @property
    def ok(self) -> bool:
        return self.first_divergence is None

    def table(self) -> str:
        rows = [f"source run by {self.reference}; {len(self.layers)} values compared",
                f"{'layer':<40} {'op':<20} {'max abs err':>12} {'max rel err':>12}  ok"]
        for d in self.layers:
            rows.append(f"{d.node[-40:]:<40} {d.op[:20]:<20} {d.max_abs:12.3e} {d.max_rel:12.3e}  "
                        f"{'yes' if d.ok else 'NO'}")
        first = self.first_divergence
        if first is None:
            rows.append(f"all {len(self.layers)} compared values agree "
                        f"(rtol {self.rtol:g}, atol {self.atol:g})")
        else:
            hint = HINTS.get(first.op, "this layer's weights or attributes")
            rows.append(f"first divergence: {first.node} ({first.op}): max abs err "
                        f"{first.max_abs:.3e}; likely cause: {hint}")
        return "\n".join(rows) + "\n"


def compare(graph: Graph, source: dict[str, np.ndarray], target: dict[str, np.ndarray],
            rtol: float = 1e-4, atol: float = 1e-5) -> VerifyReport:
    """Compare values present in both, in the graph's topological order."""
    layers, missing = [], []
    for node in graph.nodes:
        for v in node.outputs:
            if v.name not in source:
                continue
            if v.name not in target:
                missing.append(v.name)
                continue
            a = np.asarray(source[v.name], dtype=np.float64)
            b = np.asarray(target[v.name], dtype=np.float64)
            if a.shape != b.shape:
                layers.append(LayerDiff(v.name, node.name, node.op, float("inf"), float("inf"),
                                        False))
                continue
            diff = np.abs(a - b)
            max_abs = float(diff.max()) if diff.size else 0.0
            max_rel = float((diff / np.maximum(np.abs(a), 1e-12)).max()) if diff.size else 0.0
            ok = bool(np.all(diff <= atol + rtol * np.abs(a)))
            layers.append(LayerDiff(v.name, node.name, node.op, max_abs, max_rel, ok))
    outs = sum(1 for v in graph.outputs if v.name in source and v.name in target)
    return VerifyReport(layers, rtol, atol, outs, missing)
