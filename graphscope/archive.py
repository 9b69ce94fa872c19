"""Zip archives from untrusted files (.keras, TorchScript, .pt2, torch.save checkpoints).

The central directory is checked before any member is read: every member must lie inside the
file, and no member may declare more bytes than its compressed data can honestly expand to (a
zip bomb declares gigabytes from kilobytes). Reading a member into memory is capped by the
memory limit (graphscope.bounded). Every failure is a ParseError naming the file and member.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from .errors import ParseError

MAX_RATIO = 1100      # deflate's best is about 1032:1; a larger declared ratio is a lie
SLACK = 1 << 20       # tiny deflated members are not held to the ratio


def open_zip(path: Path, what: str) -> zipfile.ZipFile:
    """The archive, its central directory checked; ParseError if it is not a sound zip."""
    try:
        z = zipfile.ZipFile(path)
    except Exception as exc:  # noqa: BLE001 - BadZipFile, names not UTF-8, bad offsets...
        raise ParseError(f"not a valid {what} ({type(exc).__name__}: {_first_line(exc)})",
                         file=str(path)) from None
    try:
        check_members(z, path, what)
    except ParseError:
        z.close()
        raise
    return z


def check_members(z: zipfile.ZipFile, path: Path, what: str) -> None:
    size = Path(path).stat().st_size
    for info in z.infolist():
        if info.header_offset + info.compress_size > size:
            raise ParseError(f"{what}: member '{info.filename}' extends past the end of the "
                             f"file (truncated?)", file=str(path))
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = info.compress_size * MAX_RATIO + SLACK
        else:  # bzip2, lzma: no simple bound; read_member still caps what is read
            continue
        if info.file_size > limit:
            raise ParseError(f"{what}: member '{info.filename}' declares {info.file_size:,} "
                             f"bytes from {info.compress_size:,} stored; the archive is corrupt "
                             f"or a zip bomb", file=str(path))


def read_member(z: zipfile.ZipFile, name: str, path: Path, what: str) -> bytes:
    """One member's bytes, refused before reading if it declares more than the memory limit."""
    from .bounded import max_memory
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ParseError(f"{what} has no member '{name}'", file=str(path)) from None
    if info.file_size > max_memory():
        raise ParseError(f"{what}: member '{name}' declares {info.file_size:,} bytes, more "
                         f"than the memory limit (--max-memory)", file=str(path))
    try:
        return z.read(info)
    except Exception as exc:  # noqa: BLE001 - CRC mismatch, zlib errors, truncation
        raise ParseError(f"{what}: cannot read member '{name}' ({type(exc).__name__}: "
                         f"{_first_line(exc)})", file=str(path)) from None


def check_if_zip(path: Path, what: str) -> None:
    """For readers that open the zip themselves (torch): refuse a corrupt directory first.
    Files that are not zips (legacy torch.save pickles) pass untouched."""
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError:
        return
    if is_zip:
        open_zip(path, what).close()


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else "corrupt"
