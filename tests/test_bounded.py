"""graphscope.bounded: readers run in a child process under a time and a memory limit; the
limits come from --timeout / --max-memory or the environment; --debug works anywhere."""
import os
import time

import pytest

from graphscope import bounded
from graphscope.errors import ParseError, ShapeError, UsageError
from tests.conftest import CORPUS, run_cli


def spin(seconds):  # targets for the child process (module-level: imported by name there)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def sleep(seconds):
    time.sleep(seconds)
    return "woke"


def allocate(megabytes):
    block = bytearray(megabytes << 20)
    return len(block)


def fail_cleanly(message):
    raise ShapeError(message)


def fail_raw(message):
    raise ValueError(message)


@pytest.fixture
def limits(monkeypatch):
    def set_(timeout=None, memory=None):
        if timeout is not None:
            monkeypatch.setenv(bounded.ENV_TIMEOUT, str(timeout))
        if memory is not None:
            monkeypatch.setenv(bounded.ENV_MAX_MEMORY, str(memory))
    return set_


def test_result_comes_back_as_json(limits):
    limits(timeout=20)
    assert bounded.run_bounded(f"{__name__}:spin", 0, what="spinning") == "done"
    assert bounded.run_bounded(f"{__name__}:allocate", 8, what="allocating") == 8 << 20


@pytest.mark.timeout(60)  # the child is killed at 2 s; a hang would fail here, not block
def test_a_reader_that_does_not_return_is_stopped_at_the_deadline(limits):
    limits(timeout=2)
    with pytest.raises(ParseError, match=r"spinning did not finish within 2 s.*--timeout") as e:
        bounded.run_bounded(f"{__name__}:spin", 60, what="spinning", file="m.h5")
    assert e.value.file == "m.h5"


@pytest.mark.timeout(120)
def test_the_limit_is_cpu_time_with_a_wall_clock_backstop(limits):
    """Waiting uses no CPU: a child that sleeps past the limit is not stopped at it (a busy
    machine must not fail a sound file), but one that blocks for good meets the backstop."""
    limits(timeout=3)  # the child's start (imports) uses about a second of it
    assert bounded.run_bounded(f"{__name__}:sleep", 5, what="sleeping") == "woke"
    backstop = 3 * bounded.WALL_FACTOR + bounded.WALL_EXTRA_S
    with pytest.raises(ParseError, match=r"sleeping did not finish within 3 s"):
        bounded.run_bounded(f"{__name__}:sleep", backstop + 30, what="sleeping")


def test_a_reader_that_allocates_too_much_is_stopped(limits):
    limits(timeout=30, memory="1G")
    with pytest.raises(ParseError, match=r"more than 1 GiB.*--max-memory"):
        bounded.run_bounded(f"{__name__}:allocate", 3000, what="allocating", file="m.h5")


def test_errors_keep_their_class_and_message(limits):
    limits(timeout=20)
    with pytest.raises(ShapeError, match="bad dims"):
        bounded.run_bounded(f"{__name__}:fail_cleanly", "bad dims", what="x", file="f")
    with pytest.raises(ParseError, match=r"^f: x failed \(ValueError: raw failure\)"):
        bounded.run_bounded(f"{__name__}:fail_raw", "raw failure", what="x", file="f")


@pytest.mark.parametrize("text,expected", [("2G", 2 << 30), ("512M", 512 << 20),
                                           ("1.5GiB", int(1.5 * (1 << 30))), ("4096", 4096)])
def test_parse_size(text, expected):
    assert bounded.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1G", "lots", "3Q"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(UsageError):
        bounded.parse_size(text)


def test_cli_limits_and_debug_anywhere(tmp_path):
    hang = CORPUS / "crashers" / "hang.h5"
    if not hang.exists():
        pytest.skip("crashers corpus absent")
    env = dict(os.environ)
    env.pop(bounded.ENV_TIMEOUT, None)
    proc = run_cli("info", hang, "--timeout", "2", env=env)  # after the subcommand
    assert proc.returncode == 2 and "within 2 s" in proc.stderr
    proc = run_cli("--timeout", "3", "info", hang, env=env)  # before it
    assert proc.returncode == 2 and "within 3 s" in proc.stderr
    proc = run_cli("info", hang, "--timeout", "2", "--debug", env=env)  # --debug after it
    assert "Traceback" in proc.stderr and "ParseError" in proc.stderr
    proc = run_cli("info", hang, "--max-memory", "lots")
    assert proc.returncode == 2 and "--max-memory: 'lots' is not a size" in proc.stderr
