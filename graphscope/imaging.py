"""Small image helpers shared by probe and explanation reports: colour maps, grids, PNG."""
from __future__ import annotations

import base64
import io

import numpy as np

from .errors import require

# viridis, sampled at 9 points; np.interp fills in between
_VIRIDIS = np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                     [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], np.float64)


_POS = np.linspace(0, 1, len(_VIRIDIS))
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), _POS, _VIRIDIS[:, c]) for c in range(3)],
                axis=-1).astype(np.uint8)


def colormap(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB (viridis, 256 levels)."""
    idx = (np.clip(np.nan_to_num(x), 0, 1) * 255 + 0.5).astype(np.uint8)
    return _LUT[idx]


def normalize(a: np.ndarray, axis=None) -> np.ndarray:
    """Scale to [0, 1] (per slice along ``axis`` kept dims if given); flat inputs give 0."""
    a = a.astype(np.float64)
    lo = a.min(axis=axis, keepdims=axis is not None)
    hi = a.max(axis=axis, keepdims=axis is not None)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return (a - lo) / span


def tile(images: np.ndarray, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """[K, H, W] or [K, H, W, 3] -> one grid image, ceil(sqrt(K)) columns, ``pad`` px gaps."""
    k, h, w = images.shape[:3]
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad) + images.shape[3:]
    grid = np.full(shape, fill, dtype=images.dtype)
    for i in range(k):
        r, c = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[i]
    return grid


def feature_grid(a: np.ndarray) -> np.ndarray:
    """An activation of the first sample as an RGB picture: every channel of a [N, C, H, W]
    map normalised on its own and tiled; lower ranks as one heat map."""
    x = a[0] if a.ndim >= 2 else a[None]
    if x.ndim == 3:
        grid = tile(normalize(x, axis=(1, 2)), fill=np.nan)
        rgb = colormap(np.nan_to_num(grid, nan=0.0))
        rgb[np.isnan(grid)] = 255
        return rgb
    if x.ndim == 1:
        x = x[None]
    return colormap(normalize(x.reshape(x.shape[0], -1)))


def upscale(rgb: np.ndarray, min_size: int = 96) -> np.ndarray:
    """Nearest-neighbour enlargement so that tiny maps are visible."""
    f = max(1, int(np.ceil(min_size / max(1, min(rgb.shape[:2])))))
    f = min(f, 16)
    return rgb.repeat(f, axis=0).repeat(f, axis=1) if f > 1 else rgb


def png_bytes(rgb: np.ndarray) -> bytes:
    pil = require("PIL.Image", "all", "writing images")
    buf = io.BytesIO()
    pil.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def data_uri(rgb: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode("ascii")


def histogram_svg(values: np.ndarray, bins: int = 40, width: int = 240, height: int = 60) -> str:
    """A tiny inline SVG histogram (no user strings inside, so nothing to escape)."""
    v = values.astype(np.float64).ravel()
    counts, edges = np.histogram(v, bins=bins)
    top = counts.max() or 1
    bw = width / bins
    bars = "".join(f'<rect x="{i * bw:.1f}" y="{height - c / top * height:.1f}" '
                   f'width="{max(bw - 0.5, 0.5):.1f}" height="{c / top * height:.1f}"/>'
                   for i, c in enumerate(counts) if c)
    return (f'<svg class="hist" width="{width}" height="{height + 14}" '
            f'viewBox="0 0 {width} {height + 14}"><g fill="#3b6ea8">{bars}</g>'
            f'<text x="0" y="{height + 12}" font-size="10">{edges[0]:.3g}</text>'
            f'<text x="{width}" y="{height + 12}" font-size="10" text-anchor="end">'
            f'{edges[-1]:.3g}</text></svg>')
