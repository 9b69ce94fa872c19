"""Training logs for tests/train and benchmarks/bench_train.py: event files written by
torch.utils.tensorboard and tf.summary, a Caffe log in the exact text `caffe train` prints,
CSV and JSON-lines files. Each writer returns what it wrote, for comparison."""
from __future__ import annotations

import csv
import json
import os
import struct

import numpy as np


# -- TensorBoard event files ----------------------------------------------------------------

def torch_events(log_dir, steps: int = 20):
    """Scalars, histograms and images through torch.utils.tensorboard.SummaryWriter."""
    from torch.utils.tensorboard import SummaryWriter
    rng = np.random.default_rng(1)
    exp = {"scalars": {}, "histograms": {}, "images": {}}
    w = SummaryWriter(log_dir=str(log_dir))
    for s in range(steps):
        for tag, v in (("loss", 2.0 / (s + 1) + 0.01 * rng.random()),
                       ("accuracy", 0.5 + 0.02 * s)):
            w.add_scalar(tag, v, s)
            exp["scalars"].setdefault(tag, []).append((s, float(np.float32(v))))
        if s % 5 == 0:
            vals = rng.normal(size=300 + s).astype(np.float32)
            w.add_histogram("fc/weight", vals, s, bins=16)
            exp["histograms"].setdefault("fc/weight", []).append((s, vals))
            img = rng.integers(0, 256, size=(3, 6, 5), dtype=np.uint8)
            w.add_image("sample", img, s)                  # CHW uint8, written as PNG
            exp["images"].setdefault("sample", []).append((s, img.transpose(1, 2, 0)))
    w.close()
    return exp


def tf_events(log_dir, steps: int = 12):
    """The same kinds through TF2's tf.summary (tensors tagged by plugin)."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    exp = {"scalars": {}, "histograms": {}, "images": {}}
    w = tf.summary.create_file_writer(str(log_dir))
    with w.as_default():
        for s in range(steps):
            v = 1.0 / (s + 1)
            tf.summary.scalar("loss", v, step=s)
            exp["scalars"].setdefault("loss", []).append((s, float(np.float32(v))))
            if s % 4 == 0:
                vals = rng.normal(size=200).astype(np.float64)
                tf.summary.histogram("dense/kernel", vals, step=s, buckets=10)
                exp["histograms"].setdefault("dense/kernel", []).append((s, vals))
                img = rng.integers(0, 256, size=(1, 4, 7, 3), dtype=np.uint8)
                tf.summary.image("gen", img, step=s)
                exp["images"].setdefault("gen", []).append((s, img[0]))
    w.close()
    return exp


def synthetic_event_file(path, steps: int, tags: int, every_value=None) -> None:
    """A run of `steps` steps with `tags` scalars, one Event (Summary of `tags` simple values)
    per step, as TF1's merged summaries write it. Framed by TensorFlow's C++ TFRecordWriter
    (the pure-Python CRC would take minutes at this size)."""
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2, summary_pb2
    names = [f"metric_{i:02d}" for i in range(tags)]
    rng = np.random.default_rng(0)
    values = rng.normal(size=(steps, tags)).astype(np.float32)
    values[::997] *= 50                 # spikes that the display must keep
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as w:
        w.write(event_pb2.Event(wall_time=1.0e9, file_version="brain.Event:2")
                .SerializeToString())
        ev = event_pb2.Event()
        summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=n) for n in names])
        for s in range(steps):
            ev.Clear()
            ev.step, ev.wall_time = s, 1.0e9 + s * 0.01
            row = values[s]
            for i, v in enumerate(summ.value):
                v.simple_value = row[i]
            ev.summary.CopyFrom(summ)
            w.write(ev.SerializeToString())


def truncate(path, keep_fraction: float = 0.6) -> int:
    """Cut a file in the middle of a record; returns the new size."""
    size = os.path.getsize(path)
    new = int(size * keep_fraction)
    with open(path, "r+b") as f:
        f.truncate(new)
    return new


# -- Caffe -----------------------------------------------------------------------------------

def _glog(t: float, pid: int, where: str, msg: str) -> str:
    """One glog line as Caffe prints it: 'I0920 14:03:18.382326 17411 solver.cpp:218] msg'."""
    base = 14 * 3600 + 3 * 60
    secs = base + t
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    return f"I0920 {int(hh):02d}:{int(mm):02d}:{ss:09.6f} {pid} {where}] {msg}\n"


def caffe_log(path, *, display=100, test_interval=200, stepsize=500):
    """A LeNet-style `caffe train` log: train loss + two train outputs, lr with a step
    schedule, two test outputs (accuracy, loss), snapshot at 400, a crash after 600, then a
    resumed run from the 400 snapshot up to 1000. Returns {tag: [(step, value)]} expected."""
    lines = [
        _glog(0, 17411, "caffe.cpp:218", "Using GPUs 0"),
        _glog(0.1, 17411, "solver.cpp:44", "Initializing solver from parameters: "),
        "test_iter: 100\ntest_interval: 200\nbase_lr: 0.01\ndisplay: 100\n",
        _glog(0.2, 17411, "net.cpp:51", "Initializing net from parameters: "),
        _glog(0.3, 17411, "solver.cpp:57", "Solver scaffolding done."),
        _glog(0.4, 17411, "caffe.cpp:248", "Starting Optimization"),
        _glog(0.4, 17411, "solver.cpp:272", "Solving LeNet"),
        _glog(0.4, 17411, "solver.cpp:273", "Learning Rate Policy: step"),
    ]
    expected = {}
    segs = [(0, 600, 0.0), (400, 1000, 100.0)]       # (start, end, time offset)
    for k, (start, end, t0) in enumerate(segs):
        seg = {}
        if k == 1:
            lines.append(_glog(t0, 18000, "caffe.cpp:238",
                               "Resuming from examples/mnist/lenet_iter_400.solverstate"))
            lines.append(_glog(t0, 18000, "sgd_solver.cpp:318", "SGDSolver: restoring history"))
        for it in range(start, end + 1):
            t = t0 + 1 + it * 0.01
            if it % test_interval == 0:
                acc = 0.5 + it / 2500
                tloss = 1.5 / (1 + it / 100) + 0.001 * k
                lines.append(_glog(t, 17411, "solver.cpp:330",
                                   f"Iteration {it}, Testing net (#0)"))
                lines.append(_glog(t, 17419, "data_layer.cpp:73",
                                   "Restarting data prefetching from start."))
                lines.append(_glog(t, 17411, "solver.cpp:397",
                                   f"    Test net output #0: accuracy = {acc:g}"))
                lines.append(_glog(t, 17411, "solver.cpp:397",
                                   f"    Test net output #1: loss = {tloss:g} "
                                   f"(* 1 = {tloss:g} loss)"))
                seg.setdefault("test/accuracy", []).append((it, float(f"{acc:g}")))
                seg.setdefault("test/loss", []).append((it, float(f"{tloss:g}")))
            if it % display == 0 and it < end or it == 1000:
                loss = 2.3 / (1 + it / 50) + 0.002 * k
                speed = "" if it == start else f" ({100 / 1.3:g} iter/s, 1.3s/100 iters)"
                lines.append(_glog(t, 17411, "solver.cpp:218",
                                   f"Iteration {it}{speed}, loss = {loss:g}"))
                lines.append(_glog(t, 17411, "solver.cpp:237",
                                   f"    Train net output #0: loss = {loss:g} "
                                   f"(* 1 = {loss:g} loss)"))
                lines.append(_glog(t, 17411, "solver.cpp:237",
                                   f"    Train net output #1: top5 = {0.3 + it / 5000:g}"))
                lr = 0.01 * 0.1 ** (it // stepsize)
                lines.append(_glog(t, 17411, "sgd_solver.cpp:105",
                                   f"Iteration {it}, lr = {lr:g}"))
                for tag, v in (("train/avg_loss", loss), ("train/loss", loss),
                               ("train/top5", 0.3 + it / 5000),
                               ("lr", lr)):
                    seg.setdefault(tag, []).append((it, float(f"{v:g}")))
            if it == 400 and k == 0:
                lines.append(_glog(t, 17411, "solver.cpp:447", "Snapshotting to binary proto "
                                   "file examples/mnist/lenet_iter_400.caffemodel"))
        for tag, pts in seg.items():     # the resumed run replaces steps >= its start
            old = [p for p in expected.get(tag, []) if p[0] < start]
            expected[tag] = old + pts
    lines.append(_glog(120, 17411, "solver.cpp:315", "Optimization Done."))
    lines.append(_glog(120, 17411, "caffe.cpp:259", "Optimization Done."))
    with open(path, "w") as f:
        f.writelines(lines)
    return expected


# -- CSV / JSON-lines -------------------------------------------------------------------------

def keras_csv(path, epochs: int = 5):
    """keras.callbacks.CSVLogger's layout: epoch,accuracy,loss,val_accuracy,val_loss."""
    rows = [(e, 0.6 + 0.05 * e, 1.0 / (e + 1), 0.55 + 0.05 * e, 1.2 / (e + 1))
            for e in range(epochs)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
        w.writerows(rows)
    return rows


def lightning_csv(path):
    """Lightning's CSVLogger: train and val metrics on separate rows, blanks elsewhere."""
    text = ("epoch,step,train_loss,val_loss,val_acc\n"
            "0,49,0.9,,\n0,99,0.7,,\n0,99,,0.75,0.61\n"
            "1,149,0.5,,\n1,199,0.4,,\n1,199,,0.45,0.72\n")
    with open(path, "w") as f:
        f.write(text)
    return {"train_loss": [(49, 0.9), (99, 0.7), (149, 0.5), (199, 0.4)],
            "val_loss": [(99, 0.75), (199, 0.45)], "val_acc": [(99, 0.61), (199, 0.72)],
            "epoch": [(49, 0), (99, 0), (149, 1), (199, 1)]}


def jsonl(path):
    recs = [{"step": 10 * i, "loss": 1.0 / (i + 1), "phase": "train"} for i in range(5)]
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return recs


def csv_without_step(path):
    with open(path, "w") as f:
        f.write("loss,accuracy\n0.9,0.5\n0.5,0.7\n")


def not_a_log(path):
    with open(path, "w") as f:
        f.write("hello\nthis is not a training log\n")


def raw_record(data: bytes) -> bytes:
    """TFRecord framing with a zero CRC (for corrupt-file cases only)."""
    return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4
