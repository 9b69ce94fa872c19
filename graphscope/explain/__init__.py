"""Explanations for any model, through its PyTorch form: gradients (saliency, deconvnet, guided
backprop, integrated gradients, SmoothGrad), class activation maps (CAM, Grad-CAM, Grad-CAM++)
and activation maximization."""
from .api import METHODS, ExplainResult, explain

__all__ = ["METHODS", "ExplainResult", "explain"]
