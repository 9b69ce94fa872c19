"""Caffe: .prototxt net definitions (V2 `layer {}` and V1 `layers {}`), optional .caffemodel.

Read with our own text-format reader and binary NetParameter reader; no Caffe, no protobuf
schema. Shapes follow Caffe's arithmetic exactly (pooling's ceil rounding included).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import ParseError, UsageError
from ...ir import Graph
from . import layers as LY
from .prototxt import Message, parse

FORMAT = "caffe"
DESCRIPTION = "Caffe net (.prototxt, V1 and V2 layers; --weights model.caffemodel)"
SUFFIXES = (".prototxt", ".pbtxt")
EXTRA = None
HANDLES_INPUT_SHAPES = True

NET_FIELDS = {"name", "input", "input_shape", "input_dim", "force_backward", "state",
              "debug_info", "layer", "layers"}
LAYER_FIELDS = {"name", "type", "bottom", "top", "phase", "loss_weight", "param", "blobs",
                "propagate_down", "include", "exclude", "transform_param", "loss_param",
                "blobs_lr", "weight_decay", "layer"}
KNOWN_PARAMS = {
    "accuracy", "argmax", "batch_norm", "bias", "clip", "concat", "contrastive_loss",
    "convolution", "crop", "data", "dropout", "dummy_data", "eltwise", "elu", "embed", "exp",
    "flatten", "hdf5_data", "hdf5_output", "hinge_loss", "image_data", "infogain_loss",
    "inner_product", "input", "log", "lrn", "memory_data", "mvn", "parameter", "pooling",
    "power", "prelu", "python", "recurrent", "reduction", "relu", "reshape", "scale",
    "sigmoid", "softmax", "spp", "slice", "swish", "tanh", "threshold", "tile", "window_data",
    "permute", "norm", "prior_box", "detection_output", "multibox_loss", "annotated_data",
    "roi_pooling", "proposal", "upsample", "interp", "shuffle_channel", "video_data",
    "smooth_l1_loss", "detection_evaluate", "normalize", "center_loss", "triplet_loss"}
# The sub-fields of the parameters whose meaning we read; others warn (forks add many).
PARAM_FIELDS = {
    "convolution_param": {"num_output", "bias_term", "pad", "kernel_size", "stride",
                          "dilation", "pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h",
                          "stride_w", "group", "weight_filler", "bias_filler", "engine",
                          "axis", "force_nd_im2col"},
    "pooling_param": {"pool", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h", "kernel_w",
                      "stride", "stride_h", "stride_w", "engine", "global_pooling",
                      "round_mode", "torch_pooling", "ceil_mode"},
    "inner_product_param": {"num_output", "bias_term", "weight_filler", "bias_filler",
                            "axis", "transpose"},
    "lrn_param": {"local_size", "alpha", "beta", "norm_region", "k", "engine"},
}


def match(source) -> bool:
    """.prototxt always; .pbtxt (TensorFlow uses it too) only when it looks like a Caffe net."""
    if not isinstance(source, Path):
        return False
    suffix = source.suffix.lower()
    if suffix == ".prototxt":
        return True
    if suffix == ".pbtxt" and source.is_file():
        with open(source, "rb") as f:
            head = f.read(65536).decode("utf-8", "replace")
        return ("layer {" in head or "layers {" in head or "layer{" in head) and \
            "node {" not in head
    return False


def load(source, weights=None, phase: str | None = "test", input_shapes=None,
         stages=(), caffe_level: int = 0, **options) -> Graph:
    """Read a prototxt (path or text) into a Graph; ``weights`` is a .caffemodel path."""
    if isinstance(source, Path):
        file = str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not a text prototxt (byte {exc.start} is not UTF-8; "
                             f"is this a .caffemodel? pass it as --weights)", file=file) from None
    else:
        file, text = None, str(source)
    net = parse(text, file)
    warnings: list[str] = []
    _check_fields(net, NET_FIELDS, file, warnings, "net")
    blobs = None
    if weights is not None:
        from .caffemodel import read_caffemodel
        blobs = read_caffemodel(weights)
    phase = (phase or "test").lower()
    if phase not in ("train", "test", "all"):
        raise UsageError(f"--phase must be train, test or all, not '{phase}'")
    g = Graph(str(net.get("name", "") or (Path(file).stem if file else "caffe")))
    g.metadata.update({"format": FORMAT, "producer": "caffe prototxt", "phase": phase})
    if weights is not None:
        g.metadata["weights"] = str(weights)
    b = LY.Builder(g, file, blobs, phase_all=phase == "all")
    shapes = dict(input_shapes or {})
    try:
        _net_inputs(b, net, shapes)
    except (TypeError, ValueError, OverflowError) as exc:
        line, col = net.where("input")
        raise ParseError(f"bad net input declaration ({exc})", file=file, line=line,
                         col=col) from None
    layers = _layers(net, file, warnings)
    kept = []
    for L in layers:
        if _included(L.msg, phase, set(stages), caffe_level):
            kept.append(L)
        else:
            b.left_out.update((t, L.name) for t in L.tops)
    layers = kept
    _build(b, layers, shapes)
    if shapes:
        raise UsageError(f"--input-shape: the model has no input '{next(iter(shapes))}' "
                         f"(its inputs: {', '.join(v.name for v in g.inputs) or 'none'})")
    for name in list(b.blobs.values()):
        v = g.values[name]
        if not v.consumers and v.producer is not None and name not in {o.name for o in g.outputs}:
            g.add_output(name)
    warnings += b.warnings
    if warnings:
        g.metadata["warnings"] = warnings
    return g


def _net_inputs(b: LY.Builder, net: Message, shapes: dict) -> None:
    names = [str(n) for n in net.all("input")]
    dims = [int(d) for d in net.all("input_dim")]
    ishapes = [m for m in net.all("input_shape") if isinstance(m, Message)]
    for i, name in enumerate(names):
        shape = None
        if i < len(ishapes):
            shape = [int(d) for d in ishapes[i].all("dim")]
        elif len(dims) >= 4 * (i + 1):
            shape = dims[4 * i:4 * i + 4]
        b.input(name, shapes.pop(name, shape))


def _layers(net: Message, file, warnings) -> list[LY.Layer]:
    out = []
    v2, v1 = net.all("layer"), net.all("layers")
    for msg, is_v1 in [(m, False) for m in v2] + [(m, True) for m in v1]:
        if not isinstance(msg, Message):
            line, col = net.where("layer" if v2 else "layers")
            raise ParseError("a layer must be a message { ... }", file=file, line=line, col=col)
        type_ = str(msg.get("type", ""))
        if is_v1 and type_ in LY.V1_TYPES:
            type_ = LY.V1_TYPES[type_]
        if not type_:
            line, col = msg.where()
            raise ParseError(f"layer '{msg.get('name', '?')}' has no type", file=file,
                             line=line, col=col)
        name = str(msg.get("name", "") or f"{type_.lower()}_{len(out)}")
        _check_fields(msg, LAYER_FIELDS, file, warnings, f"layer '{name}'")
        tops = [str(x) for x in msg.all("top")]
        if not tops and (type_ in LY.LOSS_LAYERS or msg.has("loss_weight")):
            tops = [name]  # Caffe gives a loss layer without a top one named after it
        out.append(LY.Layer(name, type_, [str(x) for x in msg.all("bottom")], tops, msg))
    return out


def _check_fields(msg: Message, known: set, file, warnings: list, what: str) -> None:
    """Unknown fields warn (with file:line:col) rather than fail: forks add many."""
    for name, value, pos in msg.fields:
        ok = name in known or (name.endswith("_param") and name[:-6] in KNOWN_PARAMS)
        if ok and name in PARAM_FIELDS and isinstance(value, Message):
            _check_fields(value, PARAM_FIELDS[name], file, warnings, f"{what} {name}")
        if not ok:
            line, col = msg.source.line_col(pos)
            where = f"{file}:{line}:{col}" if file else f"line {line}:{col}"
            warnings.append(f"{where}: {what}: unknown field '{name}' ignored")


def _included(msg: Message, phase: str, stages: set, level: int) -> bool:
    """Caffe's NetStateRule: include rules (any matches) / exclude rules (none matches)."""
    inc = [r for r in msg.all("include") if isinstance(r, Message)]
    exc = [r for r in msg.all("exclude") if isinstance(r, Message)]
    if inc:
        return any(_rule_matches(r, phase, stages, level) for r in inc)
    return not any(_rule_matches(r, phase, stages, level) for r in exc)


def _rule_matches(rule: Message, phase: str, stages: set, level: int) -> bool:
    if rule.has("phase") and phase != "all":
        p = str(rule.get("phase")).lower()
        p = {"0": "train", "1": "test"}.get(p, p)
        if p != phase:
            return False
    if rule.has("min_level") and level < int(rule.get("min_level")):
        return False
    if rule.has("max_level") and level > int(rule.get("max_level")):
        return False
    if any(str(s) not in stages for s in rule.all("stage")):
        return False
    return not any(str(s) in stages for s in rule.all("not_stage"))


def _build(b: LY.Builder, layers: list[LY.Layer], shapes: dict) -> None:
    fused: set[int] = set()
    for i, L in enumerate(layers):
        if i in fused:
            continue
        if L.type in LY.DATA_LAYERS or (L.type == "Python" and not L.bottoms):
            _run(b, L, lambda b, L: _data_layer(b, L, shapes))
            continue
        handler = LY.HANDLERS.get(L.type, LY.unknown)
        if L.type == "BatchNorm":
            j = _scale_partner(layers, i)
            if j is not None:
                fused.add(j)
                _run(b, L, lambda b, L: LY.batch_norm(b, L, layers[j]))
                continue
        _run(b, L, handler)


def _run(b: LY.Builder, L: LY.Layer, handler) -> None:
    """A layer whose parameters make no sense (a string where a number goes, a zero stride)
    is a ParseError at the layer, never a traceback."""
    try:
        handler(b, L)
    except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, AttributeError,
            OverflowError) as exc:
        raise b.error(L, f"cannot read this {L.type} layer ({exc.__class__.__name__}: "
                         f"{exc})") from None


def _scale_partner(layers: list[LY.Layer], i: int) -> int | None:
    """The Scale layer right after BatchNorm ``i`` that reads only its top, if any."""
    bn = layers[i]
    if i + 1 >= len(layers) or len(bn.tops) != 1:
        return None
    sc = layers[i + 1]
    if sc.type != "Scale" or sc.bottoms != bn.tops or len(sc.tops) != 1:
        return None
    if sc.tops[0] != bn.tops[0]:
        # the pre-scale blob must not be read by anyone else
        if any(bn.tops[0] in L.bottoms for L in layers[i + 2:]):
            return None
    return i + 1


def _data_layer(b: LY.Builder, L: LY.Layer, shapes: dict) -> None:
    """Data layers become graph inputs, shaped from their parameters where they say."""
    found = _data_shapes(L)
    for k, top in enumerate(L.tops):
        shape = found[k] if k < len(found) else None
        b.input(top, shapes.pop(top, shape), layer=L.name,
                dtype="float32")
        v = b.g.values.get(top)
        if v is not None:
            v.meta["caffe_type"] = L.type


def _data_shapes(L: LY.Layer) -> list:
    t = L.type
    if t == "Input":
        s = [m for m in L.param("input_param").all("shape") if isinstance(m, Message)]
        shapes = [[int(d) for d in m.all("dim")] for m in s]
        if len(shapes) == 1 and len(L.tops) > 1:
            shapes *= len(L.tops)
        return shapes
    if t == "DummyData":
        p = L.param("dummy_data_param")
        s = [m for m in p.all("shape") if isinstance(m, Message)]
        if s:
            return [[int(d) for d in m.all("dim")] for m in s]
        legacy = [p.all(f) for f in ("num", "channels", "height", "width")]
        return [[int(x[i]) if i < len(x) else int(x[0]) for x in legacy]
                for i in range(max(len(x) for x in legacy))] if all(legacy) else []
    if t == "MemoryData":
        p = L.param("memory_data_param")
        n = [int(p.get(f, 0)) for f in ("batch_size", "channels", "height", "width")]
        return [n, [n[0]]]
    tp = L.param("transform_param")
    crop = tp.get("crop_size")
    key = {"Data": "data_param", "ImageData": "image_data_param",
           "HDF5Data": "hdf5_data_param", "WindowData": "window_data_param"}.get(t)
    p = L.param(key) if key else Message()
    n = p.get("batch_size")
    n = int(n) if n is not None else None
    h = w = int(crop) if crop else None
    c = None
    means = tp.all("mean_value")
    if t == "ImageData":
        c = 3 if p.get("is_color", True) else 1
        if h is None and p.get("new_height") and p.get("new_width"):
            h, w = int(p.get("new_height")), int(p.get("new_width"))
    elif t == "WindowData":
        c = 3
        h = w = int(crop) if crop else int(p.get("crop_size", 0)) or None
    elif len(means) in (1, 3):
        c = len(means)
    if t in ("HDF5Data",) or (t == "Python"):
        return [None] * len(L.tops)
    return [(n, c, h, w), (n,)]
