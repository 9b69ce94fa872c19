"""Progress on stderr only where a person watches: in a pseudo-terminal it appears, in a pipe
it does not; --quiet prints nothing on success; --verbose prints each stage's time."""
import os
import pty
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    import onnx

    from tests.zoo import onnx_models
    p = tmp_path_factory.mktemp("progress") / "small_resnet.onnx"
    onnx.save(onnx_models.small_resnet(size=32), str(p))
    return p


def run_in_pty(*args) -> tuple[int, str]:
    """Run the CLI with stderr (and stdin) on a pseudo-terminal; stdout stays a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "graphscope", *map(str, args)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.stdout.read()
    proc.wait(timeout=300)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.timeout(600)
def test_progress_shows_in_a_terminal_and_not_in_a_pipe(resnet, tmp_path):
    rc, tty = run_in_pty("probe", resnet, "-o", tmp_path / "a.html")
    assert rc == 0, tty
    assert "graphscope: loading small_resnet.onnx..." in tty
    assert "graphscope: probing with onnxruntime..." in tty
    assert "\x1b[2K" in tty  # the status line is cleared when the stage ends
    piped = run_cli("probe", resnet, "-o", tmp_path / "b.html")
    assert piped.returncode == 0, piped.stderr
    assert "loading" not in piped.stderr and "probing" not in piped.stderr
    assert "\x1b" not in piped.stderr


@pytest.mark.timeout(600)
def test_counted_work_shows_a_bar_with_a_rate(resnet, tmp_path):
    rc, tty = run_in_pty("explain", resnet, "--method", "integrated-gradients", "--steps", "40",
                         "-o", tmp_path / "ig.png")
    assert rc == 0, tty
    assert re.search(r"graphscope: gradients: +\d+%", tty), tty[-2000:]
    assert re.search(r"input/s", tty)


def test_quiet_prints_nothing_on_success_in_a_terminal(resnet, tmp_path):
    rc, tty = run_in_pty("render", resnet, "-o", tmp_path / "m.dot", "--quiet")
    assert rc == 0 and tty == ""


def test_verbose_prints_stage_times(resnet, tmp_path):
    proc = run_cli("render", resnet, "-o", tmp_path / "m.dot", "--verbose")
    assert proc.returncode == 0, proc.stderr
    times = re.findall(r"graphscope: (loading small_resnet.onnx|rendering \d+ nodes as dot): "
                       r"(\d+\.\d\d) s", proc.stderr)
    assert [t[0].split()[0] for t in times] == ["loading", "rendering"]
    assert all(float(t[1]) >= 0 for t in times)
