"""`graphscope formats`: what graphscope reads and writes, and which extras are present."""
from __future__ import annotations

import importlib.util
import shutil

EXTRAS = {"onnx": ("onnx", "onnxruntime"), "torch": ("torch",), "tf": ("tensorflow", "tf2onnx"),
          "caffe": ("cv2",), "html": ("playwright",), "train": ("tensorboard",),
          "gpu": ("onnxruntime",), "dataset": ("numba",), "ray": ("ray",)}


# target, output, what is written, the extra it needs
CONVERSION_TARGETS = [
    ("onnx", ".onnx", "checked ONNX, shapes inferred, weights streamed", "onnx"),
    ("pytorch", ".py, .pt", "readable source + .pth state_dict; TorchScript archive", "torch"),
    ("tf", "DIR (--to tf)", "TensorFlow SavedModel", "tf"),
]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def formats_table() -> str:
    from .adapters import adapters
    from .renderers import RENDERERS
    lines = ["reads:"]
    for mod in adapters():
        extra = getattr(mod, "EXTRA", None)
        ok = extra is None or all(installed(m) for m in EXTRAS.get(extra, (extra,)))
        note = "" if ok else f"  (needs: pip install -e '.[{extra}]')"
        lines.append(f"  {mod.FORMAT:<12} {', '.join(mod.SUFFIXES):<28} {mod.DESCRIPTION}{note}")
    lines.append("writes:")
    has_dot = shutil.which("dot") is not None
    for fmt, (_, _, suffix, needs) in RENDERERS.items():
        note = "" if needs != "graphviz" or has_dot else "  (needs Graphviz: apt-get install graphviz)"
        lines.append(f"  {fmt:<12} {suffix}{note}")
    lines.append("converts to (graphscope convert):")
    for target, suffixes, what, extra in CONVERSION_TARGETS:
        ok = all(installed(m) for m in EXTRAS.get(extra, ()))
        note = "" if ok else f"  (needs: pip install -e '.[{extra}]')"
        lines.append(f"  {target:<12} {suffixes:<28} {what}{note}")
    lines.append("extras:")
    for extra, mods in EXTRAS.items():
        state = "installed" if all(installed(m) for m in mods) else "missing"
        lines.append(f"  [{extra}] {', '.join(mods)}: {state}")
    lines.append(f"  graphviz dot: {'found' if has_dot else 'missing'}")
    if installed("onnxruntime"):  # the [gpu] extra matters only with a CUDA provider
        from .runtime.onnxruntime import providers
        cuda = "CUDAExecutionProvider" in providers()
        lines.append(f"  onnxruntime CUDA provider: {'available' if cuda else 'not available'}")
    return "\n".join(lines) + "\n"
