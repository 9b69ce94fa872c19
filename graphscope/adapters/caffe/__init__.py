"""Caffe: .prototxt net definitions (V2 `layer {}` and V1 `layers {}`), optional .caffemodel.

Read with our own text-format reader and binary NetParameter reader; no Caffe, no protobuf
schema. Shapes follow Caffe's arithmetic exactly (pooling's ceil rounding included).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import ParseError, UsageError
from ... import plugins
from ...ir import Graph
from . import layers as LY
from . import data as DATA, forks, upgrade
from .prototxt import Message, parse

FORMAT = "caffe"
DESCRIPTION = "Caffe net (.prototxt, V1 and V2 layers; --weights model.caffemodel)"
SUFFIXES = (".prototxt", ".pbtxt")
EXTRA = None
HANDLES_INPUT_SHAPES = True
# types whose parameters BVLC's caffe.proto defines (a fork's *_param on them is ignored)
BVLC_TYPES = set(LY.HANDLERS) | {"Data", "ImageData", "HDF5Data", "WindowData",
                                 "MemoryData", "DummyData", "Input"}
LY.HANDLERS.update(forks.HANDLERS)

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
         stages=(), caffe_level: int = 0, forgiving: bool = False, **options) -> Graph:
    """Read a prototxt (path or text) into a Graph; ``weights`` is a .caffemodel path.

    ``forgiving`` (what `render` and `info` use) draws what is there where a strict reader
    refuses: a bottom no layer makes becomes an external input, a producer that the phase
    rules leave out is kept, an image data layer with no channel count gets 3. Each liberty
    is a warning with file:line:col; strict loading raises the same message as an error."""
    warnings: list[str] = []
    if isinstance(source, Path):
        file = str(source)
        text = _read_text(source, warnings)
    else:
        file, text = None, str(source)
    net = parse(text, file)
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
    b = LY.Builder(g, file, blobs, phase_all=phase == "all", forgiving=forgiving)
    shapes = dict(input_shapes or {})
    try:
        _net_inputs(b, net, shapes)
    except (TypeError, ValueError, OverflowError) as exc:
        line, col = net.where("input")
        raise ParseError(f"bad net input declaration ({exc})", file=file, line=line,
                         col=col) from None
    layers = _layers(net, file, warnings)
    layers = _phase_filter(b, layers, phase, set(stages), caffe_level)
    _build(b, layers, shapes)
    if shapes:
        raise UsageError(f"--input-shape: the model has no input '{next(iter(shapes))}' "
                         f"(its inputs: {', '.join(v.name for v in g.inputs) or 'none'})")
    for name in list(b.blobs.values()):
        v = g.values[name]
        if not v.consumers and v.producer is not None and name not in {o.name for o in g.outputs}:
            g.add_output(name)
    warnings += b.warnings + LY.unknown_type_warnings(b)
    if warnings:
        g.metadata["warnings"] = warnings
    return g


def read_layers(source: Path, phase: str = "test", forgiving: bool = True):
    """The net message and the layers a load would build, in order (V0 upgraded, types
    spelled canonically, phase rules applied): for tools that hand the net to another
    reader (benchmarks/caffe_corpus.py gives it to OpenCV)."""
    warnings: list[str] = []
    net = parse(_read_text(source, warnings), str(source))
    b = LY.Builder(Graph("caffe"), str(source), forgiving=forgiving)
    _net_inputs(b, net, {})
    return net, _phase_filter(b, _layers(net, str(source), warnings), phase, set(), 0)


def _read_text(path: Path, warnings: list) -> str:
    """UTF-8, or (as Caffe's parser, which reads bytes) text with legacy-encoded comments:
    GBK/GB18030 where that decodes, else the odd bytes replaced; a warning says where."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    head = data[:65536]
    if sum(1 for c in head if c < 9 or 13 < c < 32 or c == 127) > len(head) // 200:
        raise ParseError(f"not a text prototxt (byte {bad} is not UTF-8; is this a "
                         f".caffemodel? pass it as --weights)", file=str(path))
    try:
        text, how = data.decode("gb18030"), "GB18030/GBK"
    except UnicodeDecodeError:
        text, how = data.decode("utf-8", "replace"), "U+FFFD replacements"
    line = data.count(b"\n", 0, bad) + 1
    col = bad - (data.rfind(b"\n", 0, bad) + 1) + 1
    warnings.append(f"{path}:{line}:{col}: the file is not UTF-8; read as {how}")
    return text


def _phase_filter(b: LY.Builder, layers: list[LY.Layer], phase: str, stages: set,
                  level: int) -> list[LY.Layer]:
    """The layers the NetState rules keep. Forgiving: a layer left out whose top a kept
    layer reads (a TRAIN-only data layer in a deploy file) is kept too, with a warning."""
    keep = [_included(L.msg, phase, stages, level) for L in layers]
    for L, k in zip(layers, keep):
        if not k:
            for t in L.tops:
                b.left_out.setdefault(t, L.name)
    if not b.forgiving or all(keep):
        return [L for L, k in zip(layers, keep) if k]
    made = set(b.blobs)
    left: dict[str, int] = {}
    out: list[LY.Layer] = []
    brought: set[int] = set()

    def bring(j: int, reader: LY.Layer, blob: str) -> None:
        brought.add(j)
        J = layers[j]
        for bb in J.bottoms:
            if bb not in made and bb in left and left[bb] not in brought:
                bring(left[bb], J, bb)
        out.append(J)
        made.update(J.tops)
        b.liberty(reader, LY.missing_bottom_message(reader, blob, J.name) +
                  f"; kept layer '{J.name}' to draw the net", blob)

    for i, L in enumerate(layers):
        if not keep[i]:
            for t in L.tops:
                left.setdefault(t, i)
            continue
        for bb in L.bottoms:
            if bb not in made and bb in left and left[bb] not in brought:
                bring(left[bb], L, bb)
        out.append(L)
        made.update(L.tops)
    return out


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
    known = LY.known_types()
    for msg, is_v1 in [(m, False) for m in v2] + [(m, True) for m in v1]:
        if not isinstance(msg, Message):
            line, col = net.where("layer" if v2 else "layers")
            raise ParseError("a layer must be a message { ... }", file=file, line=line, col=col)
        if is_v1 and upgrade.is_v0(msg):
            msg = upgrade.upgrade_v0(msg)
        type_ = str(msg.get("type", ""))
        if is_v1 and type_ in LY.V1_TYPES:
            type_ = LY.V1_TYPES[type_]
        if not type_:
            line, col = msg.where()
            raise ParseError(f"layer '{msg.get('name', '?')}' has no type", file=file,
                             line=line, col=col)
        if type_ not in known and type_ != "padding":
            canon = upgrade.canonical_type(type_, known)
            if canon is not None:
                line, col = msg.where("type")
                if not is_v1:  # V1 enums are upper case by design
                    warnings.append(f"{file or 'line'}:{line}:{col}: layer type '{type_}' "
                                    f"read as '{canon}'")
                type_ = canon
        name = str(msg.get("name", "") or f"{type_.lower()}_{len(out)}")
        # a fork's or an unknown layer's own *_param is read or drawn, not ignored
        extra = _check_fields(msg, LAYER_FIELDS, file, warnings, f"layer '{name}'",
                              any_param=type_ not in BVLC_TYPES)
        tops = [str(x) for x in msg.all("top")]
        if not tops and ("Loss" in type_ or msg.has("loss_weight")):
            tops = [name]  # Caffe gives a loss layer without a top one named after it
        out.append(LY.Layer(name, type_, [str(x) for x in msg.all("bottom")], tops, msg, extra))
    return upgrade.fold_padding(out)


def _check_fields(msg: Message, known: set, file, warnings: list, what: str,
                  any_param: bool = False, prefix: str = "caffe_") -> dict:
    """Unknown fields warn (with file:line:col) rather than fail: forks add many. Returns
    them as attributes ('caffe_convolution_param.fork_knob'), kept for the tooltip."""
    extra = {}
    for name, value, pos in msg.fields:
        ok = name in known or (name.endswith("_param") and
                               (any_param or name[:-6] in KNOWN_PARAMS))
        if ok and name in PARAM_FIELDS and isinstance(value, Message):
            extra.update(_check_fields(value, PARAM_FIELDS[name], file, warnings,
                                       f"{what} {name}", prefix=f"{prefix}{name}."))
        if not ok:
            line, col = msg.source.line_col(pos)
            where = f"{file}:{line}:{col}" if file else f"line {line}:{col}"
            warnings.append(f"{where}: {what}: unknown field '{name}' kept as an attribute, "
                            f"not used")
            extra[f"{prefix}{name}"] = value.to_dict() if isinstance(value, Message) else value
    return extra


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
        plugin = plugins.caffe_handler(L.type, registered_only=True)
        if plugin is None and DATA.is_data_layer(L) and (
                L.type in DATA.DATA_LAYERS or plugins.caffe_handler(L.type) is None):
            _run(b, L, lambda b, L: _data_layer(b, L, shapes, layers[i + 1:]))
            continue
        handler = plugin or LY.HANDLERS.get(L.type) or plugins.caffe_handler(L.type) or \
            (LY.loss if "Loss" in L.type else LY.unknown)
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


def _data_layer(b: LY.Builder, L: LY.Layer, shapes: dict, layers) -> None:
    """Data layers become graph inputs, shaped from their parameters where they say."""
    found = DATA.data_shapes(L)
    for k, top in enumerate(L.tops):
        shape = found[k] if k < len(found) else None
        if k == 0 and shape is not None and len(shape) >= 4 and shape[1] is None \
                and top not in shapes and L.type in DATA.IMAGE_LAYERS:
            shape = list(shape)
            shape[1] = DATA.channels_from_weights(layers, top, b.weights)
            if shape[1] is None and b.forgiving and all(isinstance(d, int) for d in shape[2:]):
                shape[1] = 3
                b.liberty(L, f"layer '{L.name}': the {L.type} layer does not say its channel "
                             f"count; 3 assumed (give --weights or --input-shape {top}=...)")
        b.input(top, shapes.pop(top, shape), layer=L.name, dtype="float32")
        v = b.g.values.get(top)
        if v is not None:
            v.meta["caffe_type"] = L.type
