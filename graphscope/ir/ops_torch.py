"""PyTorch ops with no single ONNX equivalent: schema, shape rule and MAC rule for each.

Ops the PyTorch adapter does not map keep 'torch.<aten name>' and fall back to the 'custom'
category; their shapes come from the trace. The ones below get real rules because they carry
parameters or cost.
"""
from __future__ import annotations

from . import dims as D
from .graph import TensorType
from .ops import Attr, register
from .shapes import rule
from .stats import mac_rule

register("torch.linear", "layer", "y = x W^T + b over an N-d x (Gemm with transB=1, batched)")
register("torch.parameter", "constant", "one tensor of a checkpoint with no model to run")
register("torch.adaptive_avg_pool2d", "pool", "average pool to a fixed output size",
         output_size=Attr("ints"))
for _op in ("torch.lstm", "torch.gru", "torch.rnn_tanh", "torch.rnn_relu"):
    register(_op, "recurrent", "torch's fused recurrent op; inputs: x, states..., weights...",
             hidden_size=Attr("int"), num_layers=Attr("int", 1), bidirectional=Attr("int", 0),
             batch_first=Attr("int", 0))


@rule("torch.linear")
def _linear(node, ins):
    x, w = ins[0], ins[1]
    if x is None or x.shape is None or w is None or w.shape is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (*x.shape[:-1], w.shape[0]))]


@mac_rule("torch.linear")
def _linear_macs(node):
    y, w = node.outputs[0].type.shape, node.inputs[1].type.shape
    n = D.numel(y)
    return None if n is None or w is None else n * w[1]


@rule("torch.adaptive_avg_pool2d")
def _adaptive(node, ins):
    x = ins[0]
    size = node.attrs.get("output_size")
    if x is None or x.shape is None or not size:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (*x.shape[:len(x.shape) - len(size)], *size))]


@mac_rule("torch.lstm", "torch.gru", "torch.rnn_tanh", "torch.rnn_relu")
def _recurrent_macs(node):
    # every time step of every sequence multiplies by each weight matrix once (input-to-hidden
    # and hidden-to-hidden, per layer and direction); the 2-d float weights are those matrices
    x = node.inputs[0].type.shape
    if x is None or len(x) != 3:
        return None
    steps = D.numel(x[:2])
    mats = [v.data.size for v in node.inputs[1:]
            if v is not None and v.data is not None and len(v.data.shape) == 2]
    return None if steps is None else steps * sum(mats)


register("torch.grouped_mm", "layer", "grouped matmul (MoE experts): rows of x, sorted by group, "
         "each times its group's matrix; inputs: x [S, K], w [G, K, N], offsets [G]")


@rule("torch.grouped_mm")
def _grouped_mm(node, ins):
    x, w = ins[0], ins[1]
    if x is None or x.shape is None or w is None or w.shape is None or len(x.shape) != 2:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (x.shape[0], w.shape[-1]))]


@mac_rule("torch.grouped_mm")
def _grouped_mm_macs(node):
    # each row meets one group's K x N matrix: S * K * N, whatever the split between groups
    x, w = node.inputs[0].type.shape, node.inputs[1].type.shape
    if x is None or w is None or len(x) != 2:
        return None
    n = D.numel((x[0], x[1], w[-1]))
    return n
