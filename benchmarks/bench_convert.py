"""Peak memory of converting a ~100 MB model (ONNX, and Caffe prototxt + caffemodel) to ONNX,
PyTorch and TensorFlow, as multiples of the model's size, next to the baseline onnx.load of the
same file. Each case runs in a fresh process; weights are streamed, so conversion to a file
should stay well under 1x. Usage: python benchmarks/bench_convert.py [--mb 100] [--no-tf]"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "onnx.load alone (baseline)": "import onnx; onnx.load(sys.argv[1])",
    "onnx.load + onnx.save (baseline)": "import onnx; onnx.save(onnx.load(sys.argv[1]), "
                                        "sys.argv[2] + '.copy.onnx')",
    "graphscope.load (structure)": "import graphscope; graphscope.load(sys.argv[1])",
    "convert -> ONNX file": "import graphscope; graphscope.convert(sys.argv[1], to='onnx', "
                            "output=sys.argv[2] + '.onnx')",
    "convert -> PyTorch module": "import graphscope; graphscope.convert(sys.argv[1], to='pytorch')",
    "convert -> PyTorch source": "import graphscope; graphscope.convert(sys.argv[1], "
                                 "output=sys.argv[2] + '.py')",
    "convert -> TF SavedModel": "import graphscope; graphscope.convert(sys.argv[1], to='tf', "
                                "output=sys.argv[2] + '.tf')",
}
CAFFE_CASES = {
    "Caffe load with weights": "import graphscope; graphscope.load(sys.argv[1], "
                               "weights=sys.argv[3])",
    "Caffe convert -> ONNX file": "import graphscope; graphscope.convert(sys.argv[1], "
                                  "weights=sys.argv[3], to='onnx', output=sys.argv[2] + '.c.onnx')",
}


def big_caffe(mb: int, tmp: Path) -> tuple[Path, Path]:
    """InnerProduct layers of 1024 x 1024, as a prototxt and a caffemodel of ``mb`` MB."""
    sys.path.insert(0, str(ROOT))
    from graphscope.adapters.caffe.caffemodel import write_caffemodel
    width = 1024
    layers = max(1, mb * 2 ** 20 // (width * width * 4))
    text = 'name: "big" input: "x" input_shape { dim: 1 dim: 1024 }\n'
    bottom = "x"
    rng = np.random.default_rng(0)
    blobs = []
    for i in range(layers):
        text += (f'layer {{ name: "fc{i}" type: "InnerProduct" bottom: "{bottom}" top: "fc{i}" '
                 f'inner_product_param {{ num_output: {width} bias_term: false }} }}\n')
        bottom = f"fc{i}"
        blobs.append((f"fc{i}", "InnerProduct",
                      [rng.standard_normal((width, width), np.float32)]))
    proto, weights = tmp / "big.prototxt", tmp / "big.caffemodel"
    proto.write_text(text)
    write_caffemodel(weights, blobs)
    return proto, weights
def big_model(mb: int) -> onnx.ModelProto:
    width = 1024
    layers = max(1, mb * 2 ** 20 // (width * width * 4))
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width), np.float32),
                                             f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"], name=f"mm{i}"))
        x = f"h{i}"
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", 1, [1, width])],
                          [helper.make_tensor_value_info(x, 1, [1, width])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def peak_growth_mb(code: str, *args: str, imports: str = "") -> tuple[float, float]:
    """(peak RSS during ``code`` minus the RSS before it, seconds): every import is done
    first and the kernel's high-water mark reset after them (clear_refs 5). VmHWM, not
    ru_maxrss: a child's ru_maxrss starts from its parent's RSS at fork time."""
    wrapper = ("import sys; sys.path.insert(0, %r)\n"
               "import numpy, onnx, onnxruntime, torch, graphscope, graphscope.runtime.torch\n"
               "%s\n"
               "kb = lambda key: int(next(l for l in open('/proc/self/status') "
               "if l.startswith(key)).split()[1]) / 1024\n"
               "open('/proc/self/clear_refs', 'w').write('5')\n"
               "import time; before = kb('VmRSS'); t0 = time.perf_counter()\n%s\n"
               "print(kb('VmHWM') - before, time.perf_counter() - t0)"
               % (str(ROOT), imports, code))
    out = subprocess.run([sys.executable, "-c", wrapper, *args], check=True,
                         capture_output=True, text=True).stdout
    grow, seconds = out.strip().splitlines()[-1].split()
    return float(grow), float(seconds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--no-tf", action="store_true", help="skip the TensorFlow case (slow import)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "big.onnx"
    onnx.save(big_model(args.mb), str(path))
    proto, weights = big_caffe(args.mb, tmp)
    size = path.stat().st_size / 2 ** 20
    print(f"model {size:.0f} MB (caffemodel {weights.stat().st_size / 2 ** 20:.0f} MB)")
    cases = dict(CASES)
    if args.no_tf:
        cases.pop("convert -> TF SavedModel")
    baseline = None
    for label, code in list(cases.items()) + list(CAFFE_CASES.items()):
        src = str(proto) if label.startswith("Caffe") else str(path)
        imports = "import tensorflow, graphscope.convert.to_tf" if "TF" in label else ""
        grow, seconds = peak_growth_mb(code, src, str(tmp / "out"), str(weights), imports=imports)
        if label.startswith("onnx.load + onnx.save"):
            baseline = seconds
        speed = f"   {seconds:5.2f} s" + (f" = x{seconds / baseline:.2f} of load+save"
                                          if baseline and "baseline" not in label else "")
        print(f"{label:34s} peak memory growth {grow:7.0f} MB   x{grow / size:.2f} of the model"
              + speed)

if __name__ == "__main__":
    main()
