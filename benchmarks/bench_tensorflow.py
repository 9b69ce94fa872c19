"""TensorFlow adapter speed: graphscope on ResNet50 next to TensorFlow's own import + load.

Each timing is a fresh process (as a user runs it), best of --repeat:
  peers: python -c 'import keras; keras.saving.load_model(resnet50.keras)'  (TF import + load)
         python -c 'import tensorflow as tf; tf.saved_model.load(resnet50_sm)'
  ours:  graphscope info resnet50.keras / .h5       (layer graph from the file's config and
                                                     HDF5 index: no TensorFlow import)
         graphscope render resnet50.pb -o x.dot     (frozen op graph, no TF import at all)
         graphscope render resnet50.pb -o x.svg     (same, with Graphviz layout)
         graphscope render resnet50_sm -o x.svg     (SavedModel, no TF import at all)
Run: .venv/bin/python benchmarks/bench_tensorflow.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import best_process  # noqa: E402


CPU = {}  # command label -> best CPU seconds (user + sys, the process and its children)


def timed(cmd, repeat):
    """Best wall time of ``repeat`` fresh processes; the best CPU time goes to CPU."""
    wall, CPU[" ".join(map(str, cmd))] = best_process(cmd, repeat, ROOT)
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from tests.zoo import tf_models as zoo
    d = Path(tempfile.mkdtemp(prefix="bench_tf_"))
    model = zoo.resnet50()
    model.save(d / "resnet50.keras")
    model.save(d / "resnet50.h5")
    (d / "resnet50.pb").write_bytes(zoo.frozen_graphdef(model))
    model.export(d / "resnet50_sm", verbose=False)

    import graphscope
    g = graphscope.load(d / "resnet50.pb")
    layers = graphscope.load(d / "resnet50.keras")
    print(f"ResNet50: {len(layers.nodes)} layers, {len(g.nodes)} ops; params "
          f"{layers.totals()['params']:,} (Keras count_params {model.count_params():,}); "
          f"MACs layers {layers.totals()['macs'] / 1e9:.3f} G, ops "
          f"{g.totals()['macs'] / 1e9:.3f} G "
          f"(ratio {g.totals()['macs'] / layers.totals()['macs']:.4f})")

    py, gs = sys.executable, [sys.executable, "-m", "graphscope"]
    keras_peer = timed([py, "-c", "import sys, keras; keras.saving.load_model(sys.argv[1])",
                        str(d / "resnet50.keras")], args.repeat)
    sm_peer = timed([py, "-c", "import sys, tensorflow as tf; tf.saved_model.load(sys.argv[1])",
                     str(d / "resnet50_sm")], args.repeat)
    keras_name = "TF import + keras load_model(.keras)"
    sm_name = "TF import + tf.saved_model.load"
    rows = [(keras_name, keras_peer, keras_name, keras_peer),
            (sm_name, sm_peer, sm_name, sm_peer)]

    def ours(label, argv, peer_name, peer):
        rows.append((label, timed(gs + argv, args.repeat), peer_name, peer))

    ours("graphscope info resnet50.keras", ["info", str(d / "resnet50.keras")],
         keras_name, keras_peer)
    ours("graphscope info resnet50.h5", ["info", str(d / "resnet50.h5")], keras_name, keras_peer)
    ours("graphscope info resnet50_sm", ["info", str(d / "resnet50_sm")], sm_name, sm_peer)
    ours("graphscope render resnet50.pb -o .dot",
         ["render", str(d / "resnet50.pb"), "-o", str(d / "r.dot")], keras_name, keras_peer)
    if shutil.which("dot"):
        ours("graphscope render resnet50.pb -o .svg",
             ["render", str(d / "resnet50.pb"), "-o", str(d / "r.svg")], keras_name, keras_peer)
        ours("graphscope render resnet50_sm -o .svg",
             ["render", str(d / "resnet50_sm"), "-o", str(d / "s.svg")], sm_name, sm_peer)
    cpu = list(CPU.values())
    keras_cpu, sm_cpu = cpu[0], cpu[1]
    for (label, t, peer_name, peer), c in zip(rows, cpu):
        peer_cpu = keras_cpu if peer is keras_peer else sm_cpu
        print(f"{label:40s} wall {t:7.2f} s  x{t / peer:.2f}   CPU {c:6.2f} s  "
              f"x{c / peer_cpu:.2f} of '{peer_name}'")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
