"""Whole datasets: probes, conversion agreement and explanations over many inputs, streamed,
on the local engine or on Ray Data (see docs/dataset.md)."""
from __future__ import annotations

__all__ = ["probe_dataset", "DatasetProbe"]


def __getattr__(name):  # lazy: importing graphscope loads no numpy
    if name not in __all__:
        raise AttributeError(name)
    from . import probe
    globals()[name] = value = getattr(probe, name)
    return value
