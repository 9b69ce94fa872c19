"""Small modules that use the ATen ops MoE routing and masks emit (advanced indexing,
index_put, topk, sort, floor_divide, histc, cumsum with a cast, grouped_mm), each with the
edge cases of the op's semantics: non-adjacent index dims, duplicate indices accumulated,
ties, negative operands, values on a bin edge or outside the range, an empty group and rows
past the last offset. ``ALL`` maps a name to (module factory, example inputs factory)."""
from __future__ import annotations

import torch
from torch import nn


def _x(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


class Index(nn.Module):
    """x[i, :, j] (index dims apart: broadcast dims first), x[:, i, j] (adjacent, after a
    sliced dim), x[i2, j2] with a [3, 1] and a [4] index broadcast to [3, 4]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("i", torch.tensor([1, 0, 1, 1, 0]))
        self.register_buffer("j", torch.tensor([3, 0, 2, 2, 1]))
        self.register_buffer("i2", torch.tensor([[1], [0], [1]]))
        self.register_buffer("j2", torch.tensor([0, 2, 1, 2], dtype=torch.int32))

    def forward(self, x):  # x: [2, 3, 4]
        return x[self.i, :, self.j], x[:, self.i2, self.j2], x[self.i2, self.j2]


class IndexPut(nn.Module):
    """y[:, i, j] = v (broadcast, adjacent dims after a sliced one) and x.index_put((k,), w,
    accumulate=True) with a duplicate index (summed)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("i", torch.tensor([0, 2]))
        self.register_buffer("j", torch.tensor([1, 3]))
        self.register_buffer("k", torch.tensor([1, 0, 1]))

    def forward(self, x):  # x: [2, 3, 4]
        y = x.clone()
        y[:, self.i, self.j] = x[:, 0, :2] * 10
        z = x.index_put((self.k,), x[self.k] * 2, accumulate=True)
        return y, z


class TopkSort(nn.Module):
    """topk smallest along dim 1; sort descending along dim 0, with ties (rounded values):
    the indices of tied values come in index order, as in torch's stable sort."""

    def forward(self, x):  # x: [5, 6]
        small = torch.topk(x, 2, dim=1, largest=False)
        tied = torch.round(x)
        order = torch.sort(tied, dim=0, descending=True, stable=True)
        return small.values, small.indices, order.values, order.indices


class FloorDivide(nn.Module):
    """Integer floor division rounds toward -inf (-7 // 3 == -3), by a scalar and a tensor."""

    def forward(self, x):  # x: [2, 6]
        n = (x * 10).long()
        d = torch.where(n.abs() % 4 == 0, 3, -2)
        return torch.floor_divide(n, 3).float(), torch.floor_divide(n, d).float()


class Histc(nn.Module):
    """histc over a fixed range (a value on the upper edge, values outside ignored) and over
    the data's range (min = max = 0); then cumsum to int32 as the MoE routers do."""

    def forward(self, x):  # x: [4, 5]
        edged = torch.cat([x.flatten(), torch.ones(1)])
        fixed = torch.histc(edged, bins=4, min=-1, max=1)
        ranged = torch.histc(x, bins=3)
        return fixed, ranged, torch.cumsum(fixed, 0, dtype=torch.int32).float()


class GroupedMM(nn.Module):
    """transformers' grouped_mm_fallback: group 1 empty, the last row past the last offset
    (its output row is zeros)."""

    def __init__(self):
        super().__init__()
        import transformers.integrations.moe  # noqa: F401  (registers the op)
        self.w = nn.Parameter(_x(3, 4, 5))
        self.register_buffer("offs", torch.tensor([2, 2, 5], dtype=torch.int32))

    def forward(self, x):  # x: [6, 4]
        return torch.ops.transformers.grouped_mm_fallback(x, self.w, self.offs)


ALL = {
    "index": (Index, lambda: (_x(2, 3, 4),)),
    "index_put": (IndexPut, lambda: (_x(2, 3, 4),)),
    "topk_sort": (TopkSort, lambda: (_x(5, 6) * 2,)),
    "floor_divide": (FloorDivide, lambda: (_x(2, 6),)),
    "histc": (Histc, lambda: (_x(4, 5),)),
    "grouped_mm": (GroupedMM, lambda: (_x(6, 4),)),
}
