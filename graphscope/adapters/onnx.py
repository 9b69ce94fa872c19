"""ONNX: .onnx files (external data included, left unread) and onnx.ModelProto objects."""
from __future__ import annotations

from pathlib import Path
from ..errors import ParseError, require
from ..ir import Graph, TensorType, WeightData
from ..ir.onnx_infer import dtype_name

FORMAT = "onnx"
DESCRIPTION = "ONNX model (.onnx, external data supported)"
SUFFIXES = (".onnx",)
EXTRA = None  # onnx is a core dependency
DEFAULT_DOMAINS = ("", "ai.onnx")


def match(source) -> bool:
    if isinstance(source, Path):
        return source.suffix.lower() == ".onnx"
    return type(source).__name__ == "ModelProto" and hasattr(source, "graph")


def load(source, **options) -> Graph:
    onnx = require("onnx", "onnx", "reading ONNX")
    if isinstance(source, Path):
        from .onnx_scan import read_structure
        try:  # large weights stay in the file until asked for
            model, raw_spans = read_structure(source)
        except Exception as exc:  # protobuf's DecodeError, our ParseError and friends
            raise ParseError(f"not a valid ONNX model ({exc.__class__.__name__}: "
                             f"{str(exc) or 'cannot decode protobuf'})", file=str(source)) from None
        base_dir = str(source.parent)
        where = str(source)
    else:
        model, base_dir, where, raw_spans = source, None, None, {}
    if not model.HasField("graph") or model.ir_version <= 0:
        raise ParseError("not a valid ONNX model (no graph or no ir_version; truncated or not "
                         "an ONNX file?)", file=where)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    check_model_text(model, where, graph=False)
    reader = _Reader(onnx, base_dir, where, raw_spans)
    try:
        graph = reader.graph(model.graph, None)
    except Exception:
        check_model_text(model, where)  # a string field that is not text: name it
        raise
    if not _all_text(graph):  # cheaper than checking every field of the proto up front
        check_model_text(model, where)
    graph.metadata.update({
        "format": FORMAT, "opset": opsets.get("ai.onnx"), "opsets": opsets,
        "ir_version": model.ir_version, "producer": " ".join(
            p for p in (model.producer_name, model.producer_version) if p)})
    if model.doc_string:
        graph.metadata["doc"] = model.doc_string
    return graph


def tensor_type(type_proto) -> TensorType:
    if not type_proto.HasField("tensor_type"):
        return TensorType()
    tt = type_proto.tensor_type
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else
                      (d.dim_param if d.HasField("dim_param") and d.dim_param else None)
                      for d in tt.shape.dim)
    return TensorType(dtype_name(tt.elem_type), shape)


def tensor_error(name: str, exc: Exception, where: str | None) -> ParseError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ParseError(f"tensor '{name}': cannot read its data ({type(exc).__name__}: "
                      f"{text[:200]})", file=where)


def _not_text(field: str, value, where: str | None) -> ParseError:
    return ParseError(f"{field} is not UTF-8 text ({bytes(value)[:40]!r}); the file is "
                      f"corrupt", file=where)


def _all_text(graph) -> bool:
    """Whether every name the IR took from the file is str (see check_text)."""
    graphs = {id(graph): graph}
    for g, n in graph.walk():
        graphs[id(g)] = g
        if type(n.name) is not str or type(n.op) is not str \
                or type(n.meta.get("doc", "")) is not str:
            return False
    return all(type(name) is str for g in graphs.values() for name in g.values) and \
        type(graph.name) is str


def check_model_text(model, where: str | None, graph: bool = True) -> None:
    """The model's own strings, its opsets' domains, then (``graph``) its graph."""
    for field in ("producer_name", "producer_version", "domain", "doc_string"):
        if type(getattr(model, field)) is bytes:
            raise _not_text(field, getattr(model, field), where)
    for i, o in enumerate(model.opset_import):
        if type(o.domain) is bytes:
            raise _not_text(f"opset_import[{i}].domain", o.domain, where)
    if graph:
        check_text(model.graph, where)


def check_text(gp, where: str | None, path: str = "graph") -> None:
    """protobuf hands back a string field that is not valid UTF-8 as bytes (ONNX is proto2,
    which does not validate them): refuse it here, naming the field, before a name that is
    bytes reaches code that expects text."""
    def bad(field: str, value) -> None:
        raise _not_text(field, value, where)

    for field in ("name", "doc_string"):
        if type(getattr(gp, field)) is bytes:
            bad(f"{path}.{field}", getattr(gp, field))
    for kind in ("input", "output", "value_info", "initializer"):
        for i, item in enumerate(getattr(gp, kind)):
            if type(item.name) is bytes:
                bad(f"{path}.{kind}[{i}].name", item.name)
    for i, n in enumerate(gp.node):
        for field in ("name", "op_type", "domain", "doc_string"):
            if type(getattr(n, field)) is bytes:
                bad(f"{path}.node[{i}].{field}", getattr(n, field))
        for field in ("input", "output"):
            for j, name in enumerate(getattr(n, field)):
                if type(name) is bytes:
                    bad(f"{path}.node[{i}].{field}[{j}]", name)
        for j, a in enumerate(n.attribute):
            if type(a.name) is bytes:
                bad(f"{path}.node[{i}].attribute[{j}].name", a.name)
            if a.HasField("g"):
                check_text(a.g, where, f"{path}.node[{i}].attribute[{j}].g")
            for k, sub in enumerate(a.graphs):
                check_text(sub, where, f"{path}.node[{i}].attribute[{j}].graphs[{k}]")
        for j, prop in enumerate(n.metadata_props):
            if type(prop.key) is bytes or type(prop.value) is bytes:
                bad(f"{path}.node[{i}].metadata_props[{j}]",
                    prop.key if type(prop.key) is bytes else prop.value)


class _Reader:
    def __init__(self, onnx, base_dir: str | None, where: str | None, raw_spans: dict):
        self.onnx = onnx
        self.base_dir = base_dir
        self.where = where
        self.raw_spans = raw_spans  # top-level initializers whose data is still in the file
        from onnx import numpy_helper
        self._to_array = numpy_helper.to_array

    def to_array(self, tensor, base_dir: str | None = None):
        """The tensor's data; a tensor whose dims do not match its data, or whose external
        data is missing, is a ParseError naming it (not numpy's reshape error)."""
        try:
            if base_dir is None:
                return self._to_array(tensor)
            return self._to_array(tensor, base_dir)
        except Exception as exc:  # noqa: BLE001 - onnx/numpy decoding a corrupt tensor
            raise tensor_error(tensor.name, exc, self.where) from None

    def weight(self, tensor, top_level: bool) -> WeightData:
        span = self.raw_spans.get(tensor.name) if top_level else None

        def load_array(t=tensor):
            if span is not None:
                try:
                    return span.read_array(t)
                except (ValueError, OSError) as exc:  # dims that do not match the bytes
                    raise tensor_error(t.name, exc, self.where) from None
            if self.base_dir is None:
                return self.to_array(t)
            return self.to_array(t, self.base_dir)
        return WeightData(tuple(tensor.dims), dtype_name(tensor.data_type) or "float32",
                          loader=load_array)

    def graph(self, gp, parent: Graph | None) -> Graph:
        g = Graph(gp.name or "graph", parent=parent)
        for t in gp.initializer:
            g.add_weight(t.name, self.weight(t, parent is None))
        init_names = {t.name for t in gp.initializer}
        for vi in gp.input:
            if vi.name not in init_names:  # IR < 4 lists initializers as inputs too
                g.add_input(vi.name, tensor_type(vi.type))
        for vi in gp.value_info:
            g.value(vi.name).type = tensor_type(vi.type)
        names: set[str] = set()
        for i, np_ in enumerate(gp.node):
            self.node(g, np_, i, names)
        for vi in gp.output:
            v = g.add_output(vi.name)
            t = tensor_type(vi.type)
            if v.is_weight:  # a Constant's output: its data says what it is
                continue
            if t.shape is not None or t.dtype is not None:
                v.type = t
        return g

    def node(self, g: Graph, np_, index: int, names: set[str]) -> None:
        op = np_.op_type if np_.domain in DEFAULT_DOMAINS else f"{np_.domain}.{np_.op_type}"
        name = np_.name or f"{np_.op_type}_{index}"
        if name in names:
            name = f"{name}_{index}"
        names.add(name)
        attrs, subgraphs = {}, {}
        for a in np_.attribute:
            if a.type == self.onnx.AttributeProto.GRAPH:
                subgraphs[a.name] = a.g
            elif a.type == self.onnx.AttributeProto.GRAPHS:
                for k, sub in enumerate(a.graphs):
                    subgraphs[f"{a.name}[{k}]"] = sub
            else:
                attrs[a.name] = self.attr_value(a)
        if op == "Constant" and not subgraphs and len(np_.output) == 1 and "value" in attrs:
            self.constant(g, np_.output[0], attrs["value"])
            return
        node = g.add_node(op, list(np_.input), list(np_.output), attrs, name=name,
                          namespace=namespace_of(np_.name, np_.metadata_props),
                          source_op=np_.op_type)
        for key, sub in subgraphs.items():
            node.subgraphs[key] = self.graph(sub, g)
        if np_.doc_string:
            node.meta["doc"] = np_.doc_string
        if np_.metadata_props:  # kept for the round trip (module paths, source locations)
            node.meta["metadata_props"] = {p.key: p.value for p in np_.metadata_props}

    def constant(self, g: Graph, name: str, array) -> None:
        """Constant nodes become weights (not parameters): one fewer box per constant."""
        v = g.add_weight(name, WeightData.from_array(array))
        v.meta["constant"] = True

    def attr_value(self, a):
        A = self.onnx.AttributeProto
        if a.type == A.INT:  # the common kinds directly: a big graph has many of them
            return a.i
        if a.type == A.INTS:
            return list(a.ints)
        if a.type == A.FLOAT:
            return a.f
        from onnx import helper
        value = helper.get_attribute_value(a)
        if a.type == self.onnx.AttributeProto.TENSOR:
            return self.to_array(value)
        if a.type == self.onnx.AttributeProto.TENSORS:
            return [self.to_array(t) for t in value]
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, list):
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        return value


TORCH_SCOPES = "pkg.torch.onnx.name_scopes"  # torch.onnx's dynamo exporter: module paths


def namespace_of(node_name: str, metadata_props=()) -> str:
    """'/layer1/layer1.0/conv1/Conv' -> 'layer1/layer1.0/conv1' (torch and tf2onnx style);
    the dynamo exporter's name scopes ['', 'layer1', 'layer1.0', 'conv2d'] -> 'layer1/0'."""
    for prop in metadata_props:
        if prop.key == TORCH_SCOPES:
            import ast
            try:
                scopes = ast.literal_eval(prop.value)  # a list literal; never evaluated code
            except (ValueError, SyntaxError):
                break
            if isinstance(scopes, list) and len(scopes) >= 2:
                return str(scopes[-2]).replace(".", "/")
    if "/" not in node_name:
        return ""
    return node_name.strip("/").rsplit("/", 1)[0] if node_name.strip("/").count("/") else ""
