"""Explanations for any model, through its PyTorch form: gradients (saliency, deconvnet, guided
backprop, integrated gradients, SmoothGrad), class activation maps (CAM, Grad-CAM, Grad-CAM++)
and activation maximization."""
from __future__ import annotations

__all__ = ["METHODS", "ExplainResult", "explain"]


def __getattr__(name):  # lazy: `import graphscope` (and the CLI's start) loads no numpy
    if name not in __all__:
        raise AttributeError(name)
    from . import api
    globals()[name] = value = getattr(api, name)
    return value
