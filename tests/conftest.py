import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from tests.zoo import onnx_models

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory):
    """Every zoo model saved as an .onnx file, built once per session."""
    d = tmp_path_factory.mktemp("zoo")
    for name, build in onnx_models.ALL.items():
        onnx.save(build(), str(d / f"{name}.onnx"))
    return d


def run_cli(*args, cwd=None, env=None):
    """Run `python -m graphscope` as a user would; returns CompletedProcess with text."""
    return subprocess.run([sys.executable, "-m", "graphscope", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot not installed")
