"""Where a dataset's inputs come from: a folder, a glob, a text file listing paths, or one
.npy/.npz file holding many inputs. A ``Source`` is a list of small item descriptors (picklable,
so that Ray workers can load items themselves) and a ``Loader`` that turns one item into an
input array; nothing is read until it is asked for."""
from __future__ import annotations

import glob as _glob
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParseError, UsageError
from ..ir.graph import TensorType, Value
from ..runtime.inputs import Preprocess, load_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")
ARRAY_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True)
class Item:
    """One input: a file, or one entry (``key``: row index or npz member) of an array file."""
    path: str
    key: int | str | tuple | None = None

    @property
    def name(self) -> str:
        if self.key is None:
            return self.path
        key = ":".join(map(str, self.key)) if isinstance(self.key, tuple) else self.key
        return f"{self.path}[{key}]"


@dataclass
class Loader:
    """Turns an Item into a [1, ...] array for the model input named ``name``."""
    name: str
    dtype: str
    shape: tuple  # the model input's shape; symbolic dims as str
    preprocess: Preprocess = field(default_factory=Preprocess)

    def __post_init__(self):
        self._open: dict[str, object] = {}  # array files kept open (memory-mapped) per process

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_open"] = {}
        return state

    def value(self) -> Value:
        return Value(self.name, TensorType(self.dtype, self.shape))

    def load(self, item: Item) -> np.ndarray:
        suffix = Path(item.path).suffix.lower()
        if suffix in ARRAY_SUFFIXES:
            arr = self._array(item)
        else:
            arr = load_image(Path(item.path), self.value(), self.preprocess)
        rank = len(self.shape)
        if arr.ndim == rank - 1:
            arr = arr[None]
        if arr.ndim != rank or not all(not isinstance(d, int) or d == s
                                       for d, s in zip(self.shape[1:], arr.shape[1:])):
            want = "x".join(str(d) for d in self.shape)
            raise ParseError(f"input {item.name}: shape {tuple(arr.shape)} does not fit the "
                             f"model input '{self.name}' ({want})", file=item.path)
        return np.asarray(arr, dtype=self.dtype)

    def _array(self, item: Item) -> np.ndarray:
        if isinstance(item.key, int) and item.path.lower().endswith(".npy"):
            return self._npy_row(item)
        f = self._open.get(item.path)
        if f is None:
            try:
                f = np.load(item.path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise ParseError(f"not a readable array file ({exc})", file=item.path) from None
            self._open[item.path] = f
        try:
            if isinstance(item.key, tuple):  # (npz member, row): the member read once
                member = self._open.get((item.path, item.key[0]))
                if member is None:
                    member = self._open[(item.path, item.key[0])] = f[item.key[0]]
                return np.asarray(member[item.key[1]])
            if isinstance(item.key, str):
                return np.asarray(f[item.key])
            return np.asarray(f if item.key is None else f[item.key])
        except (KeyError, IndexError, ValueError) as exc:
            raise ParseError(f"cannot read entry {item.key!r} ({exc})", file=item.path) from None


    def _npy_row(self, item: Item) -> np.ndarray:
        """Row ``key`` of a .npy file, read with one seek (a memory map would keep every row
        read so far resident, growing with the dataset)."""
        entry = self._open.get(item.path)
        if entry is None:
            try:
                f = open(item.path, "rb")
                fmt = np.lib.format
                version = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if version == (1, 0) else \
                    fmt.read_array_header_2_0
                shape, fortran, dtype = read(f)
            except (ValueError, OSError) as exc:
                raise ParseError(f"not a readable .npy array ({exc})", file=item.path) from None
            if fortran or dtype.hasobject:
                raise ParseError("a .npy dataset must be a C-ordered numeric array",
                                 file=item.path)
            entry = self._open[item.path] = (f, f.tell(), shape, dtype)
        f, offset, shape, dtype = entry
        if not 0 <= item.key < shape[0]:
            raise ParseError(f"row {item.key} is past the end ({shape[0]} rows)",
                             file=item.path)
        count = int(np.prod(shape[1:], dtype=np.int64))
        f.seek(offset + item.key * count * dtype.itemsize)
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ParseError(f"the file ends inside row {item.key}", file=item.path)
        return np.frombuffer(data, dtype=dtype).reshape(shape[1:])


def loader_for(graph, preprocess: Preprocess | None = None) -> Loader:
    if not graph.inputs:
        raise UsageError("the model has no input to feed a dataset to")
    v = graph.inputs[0]
    if v.type.shape is None:
        raise UsageError(f"input '{v.name}' has an unknown shape; pass --input-shape")
    return Loader(v.name, v.type.dtype or "float32", tuple(v.type.shape),
                  preprocess or Preprocess())


def items(spec: str, sample_rank: int | None = None) -> list[Item]:
    """The inputs ``spec`` names, in a stable order: a folder (its images and array files,
    sorted), a glob, a .txt list (one path a line, relative to the list; # comments), or one
    .npy/.npz. An array file holds one input, or many along its first axis when its rank is
    ``sample_rank + 1`` (an .npz: each member one input, or many the same way)."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + ARRAY_SUFFIXES)
        found = [str(p) for p in files]
    elif path.is_file() and path.suffix.lower() == ".txt":
        found = _listed(path)
    elif path.is_file():
        found = [str(path)]
    elif any(c in spec for c in "*?["):
        found = sorted(p for p in _glob.glob(spec, recursive=True) if Path(p).is_file())
    else:
        raise UsageError(f"--dataset '{spec}': no such folder, file or matching glob")
    out: list[Item] = []
    for f in found:
        out.extend(_expand(f, sample_rank))
    if not out:
        raise UsageError(f"--dataset '{spec}' holds no inputs (images, .npy or .npz files)")
    return out


def _listed(path: Path) -> list[str]:
    found = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read the list ({exc})", file=str(path)) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line) if Path(line).is_absolute() else path.parent / line
        if not p.is_file():
            raise ParseError(f"no such input file '{line}'", file=str(path), line=lineno)
        found.append(str(p))
    return found


def _expand(f: str, sample_rank: int | None) -> list[Item]:
    """An array file with a leading sample axis gives one Item per row."""
    suffix = Path(f).suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        return [Item(f)]
    try:
        arrays = np.load(f, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ParseError(f"not a readable array file ({exc})", file=f) from None
    if suffix == ".npy":
        return _rows(f, None, arrays.shape, sample_rank)
    with arrays:
        return [it for key in sorted(arrays.files)
                for it in _rows(f, key, arrays[key].shape, sample_rank)]


def _rows(f: str, key, shape, sample_rank) -> list[Item]:
    if sample_rank is not None and len(shape) == sample_rank + 1:
        if key is None:
            return [Item(f, i) for i in range(shape[0])]
        return [Item(f, (key, i)) for i in range(shape[0])]
    return [Item(f, key)]


def batches(source: list[Item], loader: Loader, batch: int):
    """(items, stacked array) of ``batch`` inputs at a time."""
    for start in range(0, len(source), batch):
        chunk = source[start:start + batch]
        yield chunk, stack([loader.load(it) for it in chunk])


def stack(arrays: list[np.ndarray]) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    first = arrays[0].shape[1:]
    for a in arrays[1:]:
        if a.shape[1:] != first:
            raise UsageError(f"inputs of different shapes ({first} and {a.shape[1:]}) cannot "
                             f"share a batch; pass --batch 1")
    return np.concatenate(arrays, axis=0)
