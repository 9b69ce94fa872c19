"""Dataset probes: memory, speed against a plain onnxruntime loop, Ray against local; every
figure a ratio of two runs made by this script, in the same run.

1. memory: peak RSS of probing 5,000 inputs / of probing 100 (fresh processes, same model);
2. speed: the local engine (every layer probed, statistics merged) / a plain batched
   onnxruntime loop over the same inputs (both from the model's bytes: the session's build
   is counted on both sides), for a ResNet-style CNN at 224x224; also against a loop that
   fetches every layer but computes nothing (what the statistics themselves cost). Measured
   on ResNet-50 and on the zoo's small ResNet-style net (little compute per activation: the
   hardest case for the statistics), interleaved, best of 3;
3. Ray: local engine time / Ray Data time with 2 workers on a local Ray (num_cpus=2) over
   ResNet-50 and --ray-inputs inputs, end to end and once running; Ray's own start shown
   apart.

Usage: nice python benchmarks/bench_dataset.py [--inputs 64] [--ray-inputs 256] [--skip-ray]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def _child_memory(model_path: str, data_path: str) -> None:
    """Probe the dataset and print the peak RSS (KiB) of this process."""
    import graphscope
    from graphscope.dataset import probe_dataset
    result = probe_dataset(graphscope.load(model_path), data_path, batch=16)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report its
    # parent's peak (the parent made the 5,000 inputs)
    peak = next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
    print(json.dumps({"peak_kib": peak, "inputs": result.inputs, "seconds": result.seconds}))


def memory(folder: Path) -> None:
    import onnx

    from tests.zoo import dataset_models, onnx_models
    model = folder / "small_resnet32.onnx"
    onnx.save(onnx_models.small_resnet(size=32), model)
    runs = {}
    for n in (100, 5000):
        data = folder / f"x{n}.npy"
        np.save(data, dataset_models.inputs(n, (3, 32, 32)))
        out = subprocess.run([sys.executable, __file__, "--child-memory", str(model), str(data)],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        runs[n] = json.loads(out.stdout.strip().splitlines()[-1])
    a, b = runs[100], runs[5000]
    print(f"memory: peak RSS probing 5,000 inputs {b['peak_kib'] / 1024:.0f} MiB, 100 inputs "
          f"{a['peak_kib'] / 1024:.0f} MiB: ratio {b['peak_kib'] / a['peak_kib']:.3f} "
          f"(must be <= 1.2); {b['inputs'] / b['seconds']:.0f} inputs/s")


def resnet50_any_batch():
    """The zoo's ResNet-50 (batch 1 declared) with a symbolic batch, so that runs batch."""
    from tests.zoo import onnx_models
    model = onnx_models.resnet50()
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "N"
    return model


def speed(folder: Path, n_inputs: int, batch: int, model, title: str) -> None:
    import onnx
    import onnxruntime as ort

    import graphscope
    from graphscope.dataset import probe_dataset
    from tests.zoo import dataset_models
    graph = graphscope.load(model)
    data = folder / "x224.npy"
    np.save(data, dataset_models.inputs(n_inputs, (3, 224, 224)))
    names = [v.name for n in graph.nodes for v in n.outputs]

    def session(outputs):  # as the engine does: from the model's bytes
        m = onnx.ModelProto()
        m.CopyFrom(model)
        declared = {o.name for o in m.graph.output}
        m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in outputs if n not in declared)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        return ort.InferenceSession(m.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])

    def plain_loop(outputs, fetch):
        """Session built, then every batch run: what the engine's time counts too."""
        x = np.load(data, mmap_mode="r")
        started = time.perf_counter()
        sess = session(outputs)
        for i in range(0, n_inputs, batch):
            sess.run(fetch, {"image": np.ascontiguousarray(x[i:i + batch])})
        return time.perf_counter() - started

    plain_loop([], ["logits"]), plain_loop(names, names)  # warm up
    probe_dataset(graph, str(data), batch=batch)  # warm up (numba loads its compiled code)
    t_plain = t_fetch = t_local = float("inf")
    for _ in range(3):  # interleaved, best of 3: load from other jobs hits all three alike
        t_plain = min(t_plain, plain_loop([], ["logits"]))
        t_fetch = min(t_fetch, plain_loop(names, names))
        t_local = min(t_local, probe_dataset(graph, str(data), batch=batch).seconds)
    print(f"speed: {title} ({len(graph.nodes)} nodes, {len(names)} values probed) at "
          f"224x224, {n_inputs} inputs, batch {batch}")
    print(f"  plain onnxruntime loop (outputs only) {t_plain:.2f} s = "
          f"{n_inputs / t_plain:.1f} inputs/s")
    print(f"  plain loop fetching every layer       {t_fetch:.2f} s")
    print(f"  local engine, every layer's statistics {t_local:.2f} s = "
          f"{n_inputs / t_local:.1f} inputs/s")
    print(f"  ratio local engine / plain loop: {t_local / t_plain:.2f} (must be <= 1.5); "
          f"/ plain loop fetching every layer: {t_local / t_fetch:.2f}")


def ray_vs_local(folder: Path, model, title: str, n_inputs: int, batch: int) -> None:
    """Both engines end to end over the same inputs, and their throughput once running
    (local: the inputs after the first batch over the time from its end to the last one's;
    Ray: in the actors, from the first batch's start to the last one's end, since results
    reach the driver in bursts). Ray pays a fixed cost per run (Ray Data starts its actors,
    which import graphscope and build their sessions): measured on a dataset that takes the
    local engine tens of seconds, as the datasets Ray is for do."""
    import ray

    import graphscope
    from graphscope.dataset.local import run_local
    from graphscope.dataset.plan import make_plan
    from graphscope.dataset.ray_engine import run_ray
    from graphscope.dataset.sources import items, loader_for
    from tests.zoo import dataset_models
    graph = graphscope.load(model)
    data = folder / "ray_inputs.npy"
    np.save(data, dataset_models.inputs(n_inputs, (3, 224, 224)))
    source = items(str(data), 3)
    plan = make_plan(graph, None, loader_for(graph), batch)

    def timed(run, *extra):
        stamps, counts = [], []
        started = time.perf_counter()

        def on_batch(n):
            stamps.append(time.perf_counter())
            counts.append(n)
        run(plan, source, on_batch, *extra)
        total = time.perf_counter() - started
        running = (sum(counts) - counts[0]) / max(stamps[-1] - stamps[0], 1e-9)
        return total, running

    local_total, local_running = timed(run_local)
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    t_start = time.perf_counter() - started
    spans: list = []
    try:
        ray_total, _ = timed(run_ray, 2, None, 1, spans)
    finally:
        ray.shutdown()
    ray_running = len(source) / (max(e for _, e in spans) - min(s for s, _ in spans))
    print(f"Ray: {title}, every layer probed, {n_inputs} inputs at 224x224, batch {batch}")
    print(f"  local engine {local_total:.2f} s ({local_running:.2f} inputs/s once running); "
          f"Ray Data, 2 workers of 1 thread, {ray_total:.2f} s with Ray running "
          f"({ray_running:.2f} inputs/s once running), Ray's own start {t_start:.1f} s")
    print(f"  ratio Ray throughput / local engine throughput: end to end "
          f"{local_total / ray_total:.2f} ({local_total / (ray_total + t_start):.2f} counting "
          f"Ray's start), once running {ray_running / local_running:.2f} (must be >= 0.8)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--inputs", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--ray-inputs", type=int, default=256, help="ResNet-50 inputs for Ray")
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-resnet50", action="store_true")
    p.add_argument("--child-memory", nargs=2, metavar=("MODEL", "DATA"))
    args = p.parse_args()
    if args.child_memory:
        return _child_memory(*args.child_memory)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_memory:
            memory(Path(tmp))
        from tests.zoo import onnx_models
        speed(Path(tmp), args.inputs, args.batch,
              onnx_models.small_resnet(size=224), "ResNet-style CNN (tests/zoo small_resnet)")
        if not args.skip_resnet50:
            speed(Path(tmp), max(8, args.inputs // 2), max(1, args.batch // 2),
                  resnet50_any_batch(), "ResNet-50")
        if not args.skip_ray:
            ray_vs_local(Path(tmp), resnet50_any_batch(), "ResNet-50", args.ray_inputs,
                         max(1, args.batch // 2))


if __name__ == "__main__":
    main()
