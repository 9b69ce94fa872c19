"""Model inputs from an image, a .npy file or a seeded random draw, with preprocessing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParseError, UsageError, require
from ..ir.graph import Graph, Value


@dataclass
class Preprocess:
    """How an image becomes a tensor: resize to ``size`` (H, W; default from the model input),
    scale pixel values (0..255) by ``scale``, subtract ``mean``, divide by ``std`` (per channel,
    in the model's channel order), then lay out as NCHW or NHWC."""

    size: tuple[int, int] | None = None
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    scale: float = 1.0 / 255.0
    channel_order: str = "RGB"
    layout: str = "NCHW"

    @classmethod
    def caffe(cls) -> "Preprocess":
        """Caffe's convention: BGR, 0..255 pixels, ImageNet mean subtracted, no std."""
        return cls(mean=(104.0, 117.0, 123.0), scale=1.0, channel_order="BGR")

    @classmethod
    def imagenet(cls) -> "Preprocess":
        return cls(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def concrete_shape(v: Value, batch: int = 1) -> tuple[int, ...]:
    """The input's shape with symbolic dims set to ``batch``; refused when an array of it
    would not fit the memory limit (a file may declare any shape)."""
    from ..bounded import max_memory
    if v.type.shape is None:
        raise UsageError(f"input '{v.name}' has an unknown shape; pass --input-shape")
    shape = tuple(d if isinstance(d, int) else batch for d in v.type.shape)
    nbytes = int(np.prod(shape, dtype=object)) * 8  # float64 draws before the cast
    if nbytes > max_memory():
        raise UsageError(f"input '{v.name}' of shape {list(shape)} needs {nbytes:,} bytes, "
                         f"over the memory limit; pass a smaller --input-shape (or raise "
                         f"--max-memory)")
    return shape


def random_input(v: Value, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = concrete_shape(v)
    dtype = v.type.dtype or "float32"
    if dtype == "bool":
        draw = rng.random(shape) > 0.5
    elif dtype.startswith(("int", "uint")):
        draw = rng.integers(0, 10, size=shape)
    else:
        draw = rng.standard_normal(shape)
    return np.asarray(draw, dtype=dtype)  # an array also for a scalar (0-d) input


def load_npy(path: Path, v: Value) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ParseError(f"not a readable .npy array ({exc})", file=str(path)) from None
    want = concrete_shape(v)
    if arr.ndim == len(want) - 1:
        arr = arr[None]
    if tuple(arr.shape) != want and not _matches_symbolic(arr.shape, v.type.shape):
        raise ParseError(f"array shape {tuple(arr.shape)} does not match input '{v.name}' "
                         f"{v.type.shape_str()}", file=str(path))
    return arr.astype(v.type.dtype or "float32", copy=False)


def _matches_symbolic(shape, model_shape) -> bool:
    return len(shape) == len(model_shape) and all(
        not isinstance(m, int) or m == s for s, m in zip(shape, model_shape))


def load_image(path: Path, v: Value, pre: Preprocess) -> np.ndarray:
    """Decode, resize, normalise and lay out an image for input ``v``."""
    pil = require("PIL.Image", "all", "reading images")
    want = concrete_shape(v)
    if len(want) != 4:
        raise UsageError(f"input '{v.name}' {v.type.shape_str()} is not an image batch "
                         f"(rank 4 expected)")
    c, h, w = (want[1], want[2], want[3]) if pre.layout == "NCHW" else (want[3], want[1], want[2])
    if c not in (1, 3):
        raise ParseError(f"input '{v.name}' has {c} channels; an image gives 1 or 3 "
                         f"(check --layout)", file=str(path))
    try:
        with pil.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB")
            img = img.resize((pre.size or (h, w))[::-1], pil.BILINEAR)
            arr = np.asarray(img, dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise ParseError(f"not an image ({exc.__class__.__name__}: {exc})", file=str(path)) from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if c == 3 and pre.channel_order.upper() == "BGR":
        arr = arr[:, :, ::-1]
    arr = arr * pre.scale
    arr = (arr - np.asarray(pre.mean[:c], np.float32)) / np.asarray(pre.std[:c], np.float32)
    if pre.layout == "NCHW":
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr[None], dtype=np.float32)


def make_feeds(graph: Graph, source: str | np.ndarray | None = "random",
               pre: Preprocess | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Feeds for every graph input: ``source`` fills the first one (an array, a .npy path,
    an image path or 'random'); any other input gets a seeded random draw."""
    if not graph.inputs:
        return {}
    pre = pre or Preprocess()
    first, rest = graph.inputs[0], graph.inputs[1:]
    if isinstance(source, np.ndarray):
        feeds = {first.name: source}
    elif source in (None, "random"):
        feeds = {first.name: random_input(first, seed)}
    else:
        path = Path(source)
        if not path.is_file():
            raise ParseError("no such input file", file=str(path))
        arr = load_npy(path, first) if path.suffix.lower() == ".npy" else load_image(path, first, pre)
        feeds = {first.name: arr}
    for i, v in enumerate(rest, 1):
        feeds[v.name] = random_input(v, seed + i)
    return feeds
