"""HDF5 files are checked in a bounded child process before this process opens them.

HDF5's C library can loop forever on a corrupt file (an attribute table that points back at
itself) and Python cannot interrupt it. So before the adapter (or Keras) reads a .h5 file or
a .keras archive's weights, a child process walks the file's whole structure: every group,
every dataset's shape and type, and every attribute value, which is everything the readers
touch except the weight data itself. A file that hangs, crashes or exhausts memory there is
refused with a one-line error; one that passes is read here as usual.
"""
from __future__ import annotations

from pathlib import Path

WEIGHTS_MEMBER = "model.weights.h5"
MAX_OBJECTS = 1_000_000  # groups + datasets + attributes: more is not a Keras file


def check(path: Path) -> None:
    """Raise ParseError unless HDF5 can walk ``path`` (a .h5 file or a .keras archive's
    weights member) within the limits of graphscope.bounded."""
    from ...bounded import run_bounded
    run_bounded(f"{__name__}:walk", str(path), what="reading the HDF5 structure",
                file=str(path))


def walk(path: str) -> int:
    """Visit every object and attribute of the file; the number visited. Runs in the child."""
    import zipfile

    import h5py

    from ...errors import ParseError
    p = Path(path)
    if p.suffix.lower() == ".keras":
        try:
            with zipfile.ZipFile(p) as z:
                if WEIGHTS_MEMBER not in z.namelist():
                    return 0  # a weightless model; the adapter says what is missing
            from .h5 import open_keras_weights  # seeks in the archive: zipfile's member
            with open_keras_weights(p) as member, h5py.File(member, "r") as f:  # is slow
                return _visit(f)
        except zipfile.BadZipFile as exc:
            raise ParseError(f"not a valid .keras archive ({exc})") from None
    with h5py.File(p, "r") as f:
        return _visit(f)


def _visit(f) -> int:
    import h5py

    from ...errors import ParseError
    seen = 0
    stack = [f]
    while stack:
        obj = stack.pop()
        for key in obj.attrs:
            _ = obj.attrs[key]
            seen += 1
        if isinstance(obj, h5py.Group):
            for key in obj:
                stack.append(obj[key])
                seen += 1
        elif isinstance(obj, h5py.Dataset):
            _ = (obj.shape, obj.dtype)
        if seen > MAX_OBJECTS:
            raise ParseError(f"more than {MAX_OBJECTS} HDF5 objects: not a model file")
    f.visititems(lambda name, obj: None)  # and HDF5's own traversal, as the readers use it
    return seen
