"""explain(): pick the target and layer, run a method, return maps at input resolution."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError, require
from ..ir.graph import Graph

METHODS = ("saliency", "deconvnet", "guided-backprop", "integrated-gradients", "smoothgrad",
           "cam", "gradcam", "gradcam++", "maximize")


@dataclass
class ExplainResult:
    method: str
    target: int | None
    map: np.ndarray                       # H x W at input resolution
    attributions: np.ndarray | None       # input-shaped, for gradient methods
    input: np.ndarray                     # what was fed (preprocessed)
    layer: str | None = None
    scores: np.ndarray | None = None      # the model's output for the input
    extra: dict = field(default_factory=dict)


class Explainer:
    """A graph as a differentiable torch module, with helpers every method shares."""

    def __init__(self, graph: Graph):
        from ..runtime.torch import build_module, torch_runnable
        self.torch = require("torch", "torch", "explanations")
        self.graph = graph = torch_runnable(graph)
        self.module = build_module(graph).eval()
        if len(graph.inputs) != 1:
            raise UsageError("explanations need a model with exactly one input")
        self.input = graph.inputs[0]

    def forward(self, x, capture: list[str] | None = None):
        out = self.module(x, capture=capture)
        return out

    def scores(self, x):
        """The first output, flattened per sample: [N, classes]."""
        out = self.module(x)
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(out.shape[0], -1)

    def check_target(self, target, scores) -> int:
        n = scores.shape[1]
        if target in (None, "top"):
            return int(scores[0].argmax())
        try:
            t = int(target)
        except (TypeError, ValueError):
            raise UsageError(f"--target must be a class index or 'top' (got '{target}')") from None
        if not 0 <= t < n:
            raise UsageError(f"target class {t} is out of range: the model has {n} outputs "
                             f"(0..{n - 1})")
        return t

    def spatial_values(self) -> list:
        """Values with an N x C x H x W shape (H, W > 1), in graph order."""
        out = []
        for node in self.graph.nodes:
            for v in node.outputs:
                s = v.type.shape
                if s is not None and len(s) == 4 and all(isinstance(d, int) for d in s[2:]) \
                        and s[2] * s[3] > 1:
                    out.append(v)
        return out

    def layer_value(self, layer: str | None):
        """The value for Grad-CAM: a node or value name, or the last spatial one."""
        spatial = self.spatial_values()
        if layer is None:
            if not spatial:
                raise UsageError("no spatial (N x C x H x W) layer to explain; pass --layer")
            return spatial[-1]
        for node in self.graph.nodes:
            for v in node.outputs:
                if layer in (node.name, v.name):
                    if v not in spatial:
                        raise UsageError(f"layer '{layer}' is not spatial (its output is "
                                         f"{v.type.shape_str()}, N x C x H x W expected)")
                    return v
        raise UsageError(f"no layer named '{layer}' in the model")

    def input_grad(self, x, target: int):
        x = x.clone().requires_grad_(True)
        score = self.scores(x)[:, target].sum()
        if not score.requires_grad:
            raise UsageError("the model has no differentiable path from its input to its output")
        (grad,) = self.torch.autograd.grad(score, x, allow_unused=True)
        if grad is None:
            raise UsageError("the model has no differentiable path from its input to its output")
        return grad


def explain(model, input="random", method: str = "saliency", target=None, layer: str | None = None,
            preprocess=None, seed: int = 0, **options) -> ExplainResult:
    """Explain one prediction. ``model`` is a Graph, a path or a live model; ``input`` an array,
    an image or .npy path, or 'random'. See METHODS; options: steps, baseline, samples,
    noise, channel, iterations."""
    from .. import load
    from ..runtime.inputs import make_feeds
    from . import methods
    if method not in METHODS:
        raise UsageError(f"unknown method '{method}' (known: {', '.join(METHODS)})")
    from ..adapters import split_load_options
    from ..convert.from_tf import runnable_graph
    graph = model if isinstance(model, Graph) else load(model, **split_load_options(options))
    channels_last = graph.metadata.get("format") == "tensorflow"
    if channels_last and method in ("cam", "gradcam", "gradcam++") and layer is None:
        raise UsageError(f"{method} on a channels-last (Keras) model needs --layer naming a "
                         f"N x C x H x W value of its ONNX form")
    graph = runnable_graph(graph)  # Keras files run through tf2onnx's ONNX
    ex = Explainer(graph)
    feeds = make_feeds(graph, input, preprocess, seed)
    x = ex.torch.from_numpy(np.ascontiguousarray(feeds[ex.input.name], dtype=np.float32))
    if x.dim() != 4:
        raise UsageError(f"explanations need an image-shaped input (N x C x H x W); "
                         f"'{ex.input.name}' is {tuple(x.shape)}")
    if channels_last:  # every method works on N x C x H x W; the module permutes back
        x = x.permute(0, 3, 1, 2).contiguous()
        ex.module.input_perm = (0, 2, 3, 1)
    return methods.run(ex, method, x, target, layer, **options)
