"""graphscope.archive: zip archives from untrusted files are checked before any member is
read (sizes that lie, members past the end, zip bombs), through the API and the CLI."""
import struct
import zipfile

import pytest

from graphscope import archive
from graphscope.errors import ParseError
from tests.conftest import run_cli


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _patch_declared_size(path, member_index, size):
    """Rewrite the uncompressed size of one central-directory entry."""
    data = bytearray(path.read_bytes())
    at = -1
    for _ in range(member_index + 1):
        at = data.index(b"PK\x01\x02", at + 1)
    data[at + 24:at + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def test_a_sound_archive_opens(tmp_path):
    p = _zip(tmp_path / "ok.zip", {"a.json": b"{}", "b.bin": bytes(1000)})
    with archive.open_zip(p, "test archive") as z:
        assert archive.read_member(z, "b.bin", p, "test archive") == bytes(1000)


def test_a_declared_size_larger_than_the_stored_bytes_is_refused(tmp_path):
    p = _zip(tmp_path / "lie.zip", {"a.json": b"{}", "weights.bin": bytes(64)})
    _patch_declared_size(p, 1, 0xFFFFFFF0)
    with pytest.raises(ParseError, match=r"member 'weights.bin' declares 4,294,967,280 bytes"):
        archive.open_zip(p, "test archive")


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    p = _zip(tmp_path / "bomb.zip", {"config.json": bytes(4 << 20)}, zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(p) as z:
        compressed = z.getinfo("config.json").compress_size
    _patch_declared_size(p, 0, compressed * 5000)  # far past what deflate can reach
    with pytest.raises(ParseError, match="zip bomb"):
        archive.open_zip(p, "test archive")


def test_a_member_past_the_end_of_the_file_is_refused(tmp_path):
    p = _zip(tmp_path / "t.zip", {"a.bin": bytes(5000), "b.bin": bytes(5000)})
    data = bytearray(p.read_bytes())
    at = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)  # b.bin's entry
    data[at + 42:at + 46] = struct.pack("<I", len(data) + 100)     # its local header offset
    p.write_bytes(bytes(data))
    with pytest.raises(ParseError, match="member 'b.bin' extends past the end of the file"):
        archive.open_zip(p, "test archive")


def test_reading_a_member_over_the_memory_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHSCOPE_MAX_MEMORY", "1M")
    p = _zip(tmp_path / "big.zip", {"config.json": b" " * (3 << 20)}, zipfile.ZIP_DEFLATED)
    with archive.open_zip(p, "test archive") as z, \
            pytest.raises(ParseError, match=r"'config.json' declares 3,145,728 bytes"):
        archive.read_member(z, "config.json", p, "test archive")


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.keras"
    p.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ParseError, match="not a valid"):
        archive.open_zip(p, ".keras archive")


@pytest.mark.parametrize("suffix", [".keras", ".pt"])
def test_cli_refuses_a_lying_archive_in_one_line(tmp_path, suffix):
    p = _zip(tmp_path / f"m{suffix}", {"config.json": b"{}", "data.pkl": bytes(100)})
    _patch_declared_size(p, 1, 50_000_000)
    proc = run_cli("info", p)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "member 'data.pkl' declares 50,000,000 bytes" in lines[0]
