"""Every HDF5 access of the TensorFlow adapter, in one place (so that it can be run in a
bounded child process for untrusted files): the index of a Keras file's weights (names,
shapes, dtypes; no data read) and one weight's values, read on demand.

A .keras archive stores its weights as ``model.weights.h5`` (uncompressed in the zip, so h5py
seeks in it directly): ``layers/<snake_name>/vars/<i>`` with the layer's name as the ``name``
attribute of each ``vars`` group, nested layers below their parent. A legacy .h5 stores
``model_weights/<layer>/`` with a ``weight_names`` attribute (``layer/kernel``, ...).
"""
from __future__ import annotations

import contextlib
import io
import struct
import zipfile
from pathlib import Path

from ...errors import ParseError, require

WEIGHTS_MEMBER = "model.weights.h5"


class _StoredMember(io.RawIOBase):
    """An uncompressed zip member as a seekable file over the archive itself. (zipfile's own
    member file re-reads from the start on every backward seek, and HDF5 seeks a lot.)"""

    def __init__(self, f, start: int, size: int):
        super().__init__()
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, b):
        n = max(0, min(len(b), self.size - self.pos))
        self.f.seek(self.start + self.pos)
        got = self.f.readinto(memoryview(b)[:n])
        self.pos += got
        return got


@contextlib.contextmanager
def open_keras_weights(path: Path):
    """A .keras archive's weights member as a binary file for h5py.File."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(WEIGHTS_MEMBER)
        if info.compress_type != zipfile.ZIP_STORED:
            with z.open(info) as member:
                yield io.BytesIO(member.read())
            return
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            head = f.read(30)
            if head[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile("bad local file header")
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            raw = _StoredMember(f, info.header_offset + 30 + name_len + extra_len,
                                info.file_size)
            yield io.BufferedReader(raw, buffer_size=1 << 16)  # HDF5 reads small pieces


@contextlib.contextmanager
def _open(path: Path):
    h5py = require("h5py", "tf", "reading Keras weight files")
    try:
        if path.suffix.lower() == ".keras":
            with open_keras_weights(path) as member, h5py.File(member, "r") as f:
                yield f
        else:
            with h5py.File(path, "r") as f:
                yield f
    except KeyError as exc:  # the archive's member, or a group the index names
        raise ParseError(f"cannot read Keras weights: no {exc}", file=str(path)) from None
    except (OSError, RuntimeError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        # h5py's errors on a corrupt file (a bad heap signature, a broken B-tree...)
        raise ParseError(f"cannot read Keras weights ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})",
                         file=str(path)) from None


def model_config_attr(path: Path):
    """The ``model_config`` attribute of a legacy .h5 file (JSON text), or None."""
    with _open(path) as f:
        text = f.attrs.get("model_config")
    return text.decode("utf-8") if isinstance(text, bytes) else text


def weight_index(path: Path) -> dict[str, list[tuple[str, tuple, str, str]]]:
    """{layer path ('outer/inner' for nested models): [(variable name or index, shape, dtype,
    dataset name)]} in the order the layer saved them; no weight data is read."""
    out: dict[str, list] = {}
    with _open(path) as f:
        if path.suffix.lower() == ".keras":
            _walk_v3(f, [], out)
        elif "model_weights" in f:
            g = f["model_weights"]
            for layer in g:
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in g[layer].attrs.get("weight_names", [])]
                out.setdefault(layer, [])
                for n in names:
                    if n not in g[layer]:
                        continue
                    ds = g[layer][n]
                    parts = n.split(":")[0].split("/")
                    # 'outer/inner/kernel' in a nested model's group: the inner layer's weight
                    key = "/".join(parts[:-1]) if len(parts) > 1 and parts[0] == layer else layer
                    out.setdefault(key, []).append((parts[-1], tuple(ds.shape), str(ds.dtype),
                                                    f"model_weights/{layer}/{n}"))
    return out


def _walk_v3(f, names: list[str], out: dict) -> None:
    """One pass over the file (HDF5's own visit, not a Python walk): every 'vars' group's
    layer name and every dataset's shape, then each layer's path from its ancestors' names."""
    import h5py
    labels: dict[str, str] = {}   # group path -> layer name (its vars group's 'name')
    datasets: dict[str, list] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            parent, _, key = name.rpartition("/")
            if key.isdigit():
                datasets.setdefault(parent, []).append((int(key), tuple(obj.shape),
                                                        str(obj.dtype), "/" + name))
        elif name == "vars" or name.endswith("/vars"):
            label = obj.attrs.get("name")
            if label is not None:
                labels[name[:-len("vars")].rstrip("/")] = label.decode() \
                    if isinstance(label, bytes) else str(label)
    f.visititems(visit)
    for vars_path in set(datasets) | {(p + "/vars").lstrip("/") for p in labels}:
        owner = vars_path[:-len("vars")].rstrip("/")
        if owner not in labels:
            continue
        parts = owner.split("/") if owner else []
        chain = [labels[p] for p in ("/".join(parts[:i]) for i in range(1, len(parts) + 1))
                 if p in labels]
        path = "/".join(chain) if chain else labels[owner]
        out[path] = [(str(i), shape, dtype, ds) for i, shape, dtype, ds in
                     sorted(datasets.get(vars_path, []))]


def read_dataset(path: Path, name: str):
    """One weight's values (numpy), read when something asks for them."""
    import numpy as np
    with _open(path) as f:
        return np.asarray(f[name][()])
