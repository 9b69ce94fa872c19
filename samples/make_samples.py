"""Build the sample models that `make demo` renders. Usage: python samples/make_samples.py [DIR]

The models are made here, in code, with random weights (nothing is downloaded): the ONNX ones
come from the shared test zoo, so the samples and the tests draw the same networks.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402

from tests.zoo import onnx_models  # noqa: E402

SAMPLES = {
    "lenet": onnx_models.lenet,
    "small_resnet": onnx_models.small_resnet,
    "transformer_block": onnx_models.transformer_block,
}


def main(out_dir: str = "samples") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLES.items():
        path = out / f"{name}.onnx"
        data = build().SerializeToString()
        if not path.exists() or path.read_bytes() != data:  # keep files untouched when equal
            path.write_bytes(data)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
