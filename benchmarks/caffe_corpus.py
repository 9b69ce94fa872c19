"""The Caffe corpus (../shared/corpus/caffe: BVLC and wild) against OpenCV's Caffe importer.

    .venv/bin/python benchmarks/caffe_corpus.py [--baseline DIR] [--files N] [--verbose]

For every prototxt: does graphscope read it (forgiving, as `render`/`info` do), how many of
its layers get every top's shape known (a symbol such as num_rois counts as known; None
does not), and, on the layers OpenCV's cv2.dnn can run, whether the per-layer output shapes
agree. OpenCV needs weights and a deploy net: each file is handed to it as the layers
graphscope kept (data layers turned into inputs of the shape graphscope gives them, unknown
dims filled in as N=1, C=3, H=W=224 for both sides, losses dropped), with a caffemodel of
random weights; a layer OpenCV cannot create is dropped with everything downstream of it.

``--baseline DIR``: also count known shapes with another graphscope checkout (DIR holds its
``graphscope`` package), e.g. ``git archive <commit> graphscope | tar -x -C DIR``.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "caffe"

FILL = {2: (1, 3, 224, 224), 5: (1, 3, 16, 112, 112)}
SKIP_TYPES = {"Silence", "Accuracy", "Python"}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.prototxt"))


def known_counts(files, cwd: Path) -> dict:
    """{file name: (layers with every shape known, layers) or None when it is not read},
    computed in a child process with ``cwd``'s graphscope."""
    code = r'''
import json, sys
from pathlib import Path
import graphscope
out = {}
for f in sys.argv[1:]:
    try:
        try:
            g = graphscope.load(Path(f), forgiving=True)
        except TypeError:
            g = graphscope.load(Path(f))
    except Exception as exc:
        out[Path(f).name] = None
        continue
    layers = {}
    for n in g.nodes:
        layer = n.meta.get("caffe_layer", n.name)
        ok = all(v.type.shape is not None and None not in v.type.shape for v in n.outputs)
        layers[layer] = layers.get(layer, True) and ok
    out[Path(f).name] = [sum(layers.values()), len(layers)]
print(json.dumps(out))
'''
    import json
    r = subprocess.run([sys.executable, "-c", code, *map(str, files)], cwd=cwd,
                       capture_output=True, text=True, env={"PYTHONPATH": str(cwd)})
    if r.returncode:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def filled(shape):
    """Unknown dims filled in the same way for both sides."""
    if shape is None:
        return None
    base = FILL[5] if len(shape) == 5 else FILL[2]
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, int):
            out.append(d)
        elif i < len(base) and len(shape) in (4, 5):
            out.append(base[i])
        else:
            out.append(1)
    return tuple(out)


def deploy_text(path: Path, g, drop: set, strip: bool = False) -> str:
    """The kept layers as one deploy net for OpenCV: inputs declared, losses dropped,
    BatchNorm in inference mode; ``strip``: the forks' parameter messages left out (OpenCV's
    reader rejects some nested unknown fields)."""
    from graphscope.adapters.caffe import KNOWN_PARAMS
    from graphscope.adapters.caffe import data as DATA
    from graphscope.adapters.caffe import read_layers
    from graphscope.adapters.caffe.prototxt import Message, to_text
    _, layers = read_layers(path)
    gone = set()
    body = []
    for L in layers:
        if DATA.is_data_layer(L) or L.type in SKIP_TYPES or "Loss" in L.type \
                or L.name in drop or any(b in gone for b in L.bottoms):
            if not DATA.is_data_layer(L):
                gone.update(t for t in L.tops if t not in L.bottoms)
            continue
        m = Message()
        m.fields = [("name", L.name, 0), ("type", L.type, 0)] + \
            [("bottom", b, 0) for b in L.bottoms] + [("top", t, 0) for t in L.tops] + \
            [f for f in L.msg.fields if f[0] not in ("name", "type", "bottom", "top", "include",
                                                     "exclude", "loss_weight", "layer",
                                                     "batch_norm_param")
             and not (strip and f[0].endswith("_param") and f[0][:-6] not in KNOWN_PARAMS)]
        if L.type == "DepthwiseConvolution" and any(n.name == L.name for n in g.nodes):
            # OpenCV lacks the name, not the layer: a grouped Convolution, as we read it
            m.fields[1] = ("type", "Convolution", 0)
            conv = Message()
            conv.fields = [f for f in L.param("convolution_param").fields if f[0] != "group"] + \
                [("group", g.node(L.name).attrs["group"], 0)]
            m.fields = [f for f in m.fields if f[0] != "convolution_param"] + \
                [("convolution_param", conv, 0)]
        if L.type == "BatchNorm":
            bn = Message()
            bn.fields = [("use_global_stats", True, 0)] + [
                f for f in L.param("batch_norm_param").fields if f[0] != "use_global_stats"]
            m.fields.append(("batch_norm_param", bn, 0))
        body.append("layer {\n" + to_text(m, "  ") + "\n}")
    used = {b for text in body for b in re.findall(r'bottom: "([^"]*)"', text)}
    head = []
    for v in g.inputs:
        if v.name in used:
            if v.type.shape is None:
                raise LookupError(f"input '{v.name}' has no known shape")
            dims = " ".join(f"dim: {d}" for d in v.type.shape)
            head.append(f'input: "{v.name}"\ninput_shape {{ {dims} }}')
    return "\n".join(head + body) + "\n"


def compare_with_opencv(path: Path, work: Path):
    """(layers compared, layers agreeing, disagreements, note) for one file."""
    import cv2
    import graphscope
    from tests.zoo.caffe_models import our_shapes, random_caffemodel
    g = graphscope.load(path, forgiving=True)
    shapes = {v.name: filled(v.type.shape) for v in g.inputs}
    if any(s is None for s in shapes.values()):
        shapes = {k: s for k, s in shapes.items() if s is not None}
    if any(v.type.shape != shapes.get(v.name) for v in g.inputs):
        g = graphscope.load(path, forgiving=True, input_shapes=shapes)
    ours = our_shapes(g)
    proto, model = work / "deploy.prototxt", work / "random.caffemodel"
    random_caffemodel(g, model)
    drop: set[str] = set()
    strip = False
    for _ in range(60):
        try:
            text = deploy_text(path, g, drop, strip)
        except LookupError as exc:
            return 0, 0, [], str(exc)
        proto.write_text(text)
        try:
            net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
            ins = [list(g.values[n].type.shape) for n in re.findall(r'^input: "([^"]*)"', text,
                                                                      re.M)]
            ids, _, outs = net.getLayersShapes(ins)
            break
        except cv2.error as exc:
            if "UnknownField" in str(exc) and not strip:
                strip = True
                continue
            m = re.search(r'layer "([^"]+)" of type', str(exc)) or \
                re.search(r"Layer '?([^' ]+)'? of type", str(exc))
            name = m.group(1) if m else _failing_layer(str(exc), text)
            if name is None or name in drop:
                return 0, 0, [], f"OpenCV: {str(exc).strip().splitlines()[-1][:140]}"
            drop.add(name)
    else:
        return 0, 0, [], "OpenCV: too many layers it cannot create"
    names = net.getLayerNames()
    compared = agree = 0
    bad = []
    seen: dict[str, int] = {}
    for i, out in zip(ids, outs):
        if i == 0 or not len(out):
            continue
        layer = names[i - 1]
        seen[layer] = seen.get(layer, 0) + 1
        if seen[layer] > 1:  # Caffe allows repeated names; graphscope numbers them 'name#2'
            layer = f"{layer}#{seen[layer]}"
        if layer not in ours:
            continue
        theirs = tuple(int(d) for d in out[0])
        mine = ours[layer][0] if ours[layer] else None
        compared += 1
        if mine == theirs:
            agree += 1
        else:
            bad.append((layer, mine, theirs))
    note = f"dropped for OpenCV: {', '.join(sorted(drop))}" if drop else ""
    return compared, agree, bad, note


def _failing_layer(message: str, text: str):
    """OpenCV names the type, not the layer, in some assertions: the first layer of it."""
    m = re.search(r"layers/(\w+)_layer\.cpp", message)
    if not m:
        return None
    stem = m.group(1).replace("_", "").lower()
    for name, type_ in re.findall(r'name: "([^"]*)"\n  type: "([^"]*)"', text):
        if type_.lower().replace("_", "") == stem:
            return name
    return None


def one_file(f: Path):
    """compare_with_opencv in a child process: OpenCV crashes on some nets."""
    import json
    r = subprocess.run([sys.executable, __file__, "--one", str(f)], capture_output=True,
                       text=True, cwd=ROOT)
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode or not lines:
        return 0, 0, [], f"OpenCV crashed (exit {r.returncode})"
    d = json.loads(lines[-1])
    return d["compared"], d["agree"], d["bad"], d["note"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--files", type=int)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-opencv", action="store_true", help="known shapes only")
    args = ap.parse_args()
    if args.one:
        import json
        with tempfile.TemporaryDirectory() as d:
            compared, ok, bad, note = compare_with_opencv(args.one, Path(d))
        print(json.dumps({"compared": compared, "agree": ok, "note": note,
                          "bad": [(a, str(b), str(c)) for a, b, c in bad]}))
        return
    files = corpus_files()[:args.files]
    now = known_counts(files, ROOT)
    before = known_counts(files, args.baseline) if args.baseline else None
    read = sum(v is not None for v in now.values())
    k_now = sum(v[0] for v in now.values() if v)
    n_now = sum(v[1] for v in now.values() if v)
    print(f"corpus: {len(files)} prototxts; read {read}; layers with every shape known: "
          f"{k_now}/{n_now} ({100 * k_now / max(n_now, 1):.1f}%)")
    if before is not None:
        k_b = sum(v[0] for v in before.values() if v)
        n_b = sum(v[1] for v in before.values() if v)
        read_b = sum(v is not None for v in before.values())
        print(f"baseline ({args.baseline}): read {read_b}; layers with every shape known: "
              f"{k_b}/{n_b} of the files it read; now / baseline = "
              f"{k_now / max(k_b, 1):.2f}x known layers")
    if args.no_opencv:
        return
    try:
        import cv2  # noqa: F401
    except ImportError:
        print("cv2 not installed: no OpenCV comparison")
        return
    total = agree = 0
    for f in files:
        compared, ok, bad, note = one_file(f)
        total += compared
        agree += ok
        if args.verbose or bad:
            print(f"  {f.name[:70]}: {ok}/{compared} agree {note}")
            for layer, mine, theirs in bad[:5]:
                print(f"      {layer}: ours {mine}, OpenCV {theirs}")
    print(f"OpenCV agreement: {agree}/{total} layers it runs "
          f"({100 * agree / max(total, 1):.1f}%)")


if __name__ == "__main__":
    main()
