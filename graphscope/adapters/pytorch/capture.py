"""Capture a live nn.Module: torch.export first, then torch.fx symbolic tracing (exported to
ATen), then torch.jit.trace; read the result into the IR.

torch.export gives an ATen graph with FakeTensor metadata ('val') and the module stack of
every node; jit.trace runs the model once and records the ops taken (so Python control flow
on data is resolved for that input), with shapes and scope names.
"""
from __future__ import annotations

import contextlib
import io
import operator
import re
from typing import Any

from ...errors import ShapeError, UnsupportedError
from ...ir import Graph, TensorType, Value
from .build import Builder, tensor_type


def capture(module, example_inputs: tuple, dynamic_shapes=None, method: str | None = None):
    """Read ``module`` called on ``example_inputs``; graph.metadata['capture'] says how."""
    import torch
    try:
        module = module.eval()
    except NotImplementedError:  # the module of an ExportedProgram is already in eval form
        pass
    _check_runs(module, example_inputs)
    errors = []
    if method in (None, "export"):
        try:
            with _quiet():
                ep = torch.export.export(module, example_inputs, dynamic_shapes=dynamic_shapes,
                                         strict=False)
        except Exception as exc:  # export refuses models it cannot capture soundly
            if method == "export":
                raise UnsupportedError(f"torch.export failed: {_first_line(exc)}") from None
            errors.append(f"torch.export: {_first_line(exc)}")
        else:
            return read_exported(ep, type(module).__name__, capture="torch.export")
    if method in (None, "fx"):
        try:
            graph = _capture_fx(module, example_inputs, dynamic_shapes)
        except Exception as exc:  # symbolic tracing refuses data-dependent Python control flow
            if method == "fx":
                raise UnsupportedError(f"torch.fx symbolic tracing failed: "
                                       f"{_first_line(exc)}") from None
            errors.append(f"torch.fx: {_first_line(exc)}")
        else:
            if errors:
                graph.metadata["capture_fallback_reason"] = errors[0]
            return graph
    try:
        with torch.no_grad(), _quiet():
            traced = torch.jit.trace(module, example_inputs, check_trace=False, strict=False)
    except Exception as exc:
        errors.append(f"torch.jit.trace: {_first_line(exc)}")
        raise UnsupportedError("cannot capture the model: " + "; ".join(errors)) from None
    graph = read_script(traced, type(module).__name__, live=module, capture="torch.jit.trace")
    if errors:
        graph.metadata["capture_fallback_reason"] = errors[0]
    return graph


def _capture_fx(module, example_inputs, dynamic_shapes):
    """torch.fx symbolic tracing: the module's Python is traced into an fx GraphModule (which
    keeps the submodule hierarchy), then exported to ATen, so the same reader and op mapping
    apply. It rescues models whose Python export cannot follow but fx can."""
    import torch
    with _quiet():
        gm = torch.fx.symbolic_trace(module)
        ep = torch.export.export(gm, example_inputs, dynamic_shapes=dynamic_shapes, strict=False)
    return read_exported(ep, type(module).__name__, capture="torch.fx")


@contextlib.contextmanager
def _quiet():
    """torch.export logs the failing graph at length; our one-line error says enough."""
    import logging
    import warnings
    log = logging.getLogger("torch")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def _check_runs(module, example_inputs) -> None:
    """Run the model once, so a wrong example input is one clear error, not a trace dump."""
    import torch
    try:
        with torch.no_grad():
            module(*example_inputs)
    except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as exc:
        shapes = ", ".join(getattr(x, "shape", None) and "x".join(map(str, x.shape)) or
                           type(x).__name__ for x in example_inputs)
        raise ShapeError(f"the model cannot run on the example input ({shapes}): "
                         f"{_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


# -- torch.export ---------------------------------------------------------------------------
def _module_path(key_path: str) -> str:
    """nn_module_stack path 'layer1.0.conv1' (maybe "L['self'].layer1", '@1' for a repeat
    call) -> 'layer1/0/conv1'."""
    p = re.sub(r"@\d+$", "", key_path)
    p = re.sub(r"^L\['self'\]\.?", "", p)
    p = re.sub(r"\._modules\['([^']+)'\]", r".\1", p)
    return p.replace(".", "/")


def _schema_args(target, args, kwargs) -> dict[str, Any]:
    schema = getattr(target, "_schema", None)
    if schema is None:
        return {f"arg{i}": a for i, a in enumerate(args)} | dict(kwargs)
    out = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(args):
            out[arg.name] = args[i]
        elif arg.name in kwargs:
            out[arg.name] = kwargs[arg.name]
        elif arg.has_default_value():
            out[arg.name] = arg.default_value
    return out


def read_exported(ep, name: str, capture: str) -> Graph:
    """An ExportedProgram (live capture or a .pt2 file) -> Graph."""
    b = Builder(name)
    sig = ep.graph_signature
    state = ep.state_dict
    consts = getattr(ep, "constants", {}) or {}
    params = dict(sig.inputs_to_parameters)
    buffers = dict(sig.inputs_to_buffers)
    lifted = dict(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
    # non-persistent buffers (rotary inv_freq) are not state the model saves: not parameters
    transient = {s.arg.name for s in sig.input_specs
                 if getattr(s, "persistent", None) is False}
    call: list[str | None] = []  # the positional arguments: an input's name, or None
    env: dict[Any, Any] = {}
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            target = params.get(node.name) or buffers.get(node.name) or lifted.get(node.name)
            if target is not None:
                tensor = state.get(target) if target in state else consts.get(target)
                if tensor is None:
                    continue
                env[node] = b.weight(target, tensor, parameter=node.name in params)
                if node.name in transient or node.name in lifted:
                    env[node].meta["constant"] = True
            elif "val" in node.meta and node.meta["val"] is None:
                call.append(None)  # an optional argument passed as None: not a model input
            else:
                env[node] = b.graph.add_input(node.name, tensor_type(node.meta.get("val")))
                call.append(node.name)
        elif node.op == "call_function":
            if node.target is operator.getitem:
                src = env.get(node.args[0])
                env[node] = src[node.args[1]] if isinstance(src, list) else None
                continue
            _export_op(b, node, env)
        elif node.op == "output":
            for out in _flatten(node.args[0]):
                v = env.get(out)
                if isinstance(v, Value):
                    b.graph.outputs.append(v)
    meta = {"format": "pytorch", "capture": capture, "producer": _torch_version()}
    if None in call:
        meta["torch_call"] = call
    return b.finish(meta)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _flatten(e)
    elif isinstance(x, dict):
        for e in x.values():
            yield from _flatten(e)
    elif x is not None:
        yield x


def _export_op(b: Builder, node, env) -> None:
    import torch.fx as fx
    stack = node.meta.get("nn_module_stack") or {}
    namespace = ""
    for path, cls in stack.values():
        ns = _module_path(path)
        if ns:
            b.module(ns, cls.rsplit(".", 1)[-1] if isinstance(cls, str) else cls.__name__)
            namespace = ns

    def conv(a):
        if isinstance(a, fx.Node):
            return env.get(a)
        if isinstance(a, (list, tuple)):
            return [conv(e) for e in a]
        return a

    target = node.target
    schema = getattr(target, "_schema", None)
    if schema is not None and not schema.returns:  # a check (_assert_tensor_metadata): no data
        return
    args = {k: conv(v) for k, v in _schema_args(target, node.args, node.kwargs).items()}
    op_name = getattr(target, "__name__", str(target))  # 'conv2d.default'
    base = op_name.split(".")[0]
    val = node.meta.get("val")
    if isinstance(val, (list, tuple)):
        outs = [b.graph.value(f"{node.name}:{i}") for i in range(len(val))]
        for v, t in zip(outs, val):
            v.type = tensor_type(t)
        env[node] = outs
    else:
        outs = [b.graph.value(node.name)]
        outs[0].type = tensor_type(val)
        env[node] = outs[0]
    if not outs:
        return
    source = f"aten.{op_name}" if getattr(target, "namespace", "aten") == "aten" else str(target)
    b.op(node.name, base, args, outs, namespace, source)


def _torch_version() -> str:
    import torch
    return f"torch {torch.__version__}"


# -- TorchScript (jit.trace results and torch.jit.save archives) -----------------------------
def read_script(script_module, name: str, live=None, capture: str = "torchscript",
                example=None) -> Graph:
    """A ScriptModule -> Graph. Traced modules carry shapes and scope names; archives carry
    neither: with ``example`` inputs, torch runs the archive's graph once and every value
    gets the shape it had; without, shapes stay unknown. Namespaces of scripted code come
    from the weights each op reads."""
    reader = _ScriptReader(script_module, name, live)
    graph = script_module.inlined_graph
    if example is not None:
        record_shapes(graph, script_module, example)
    inputs = list(graph.inputs())
    reader.env[inputs[0].unique()] = ("module", "", script_module)
    for i, inp in enumerate(inputs[1:]):
        nm = re.sub(r"\.\d+$", "", inp.debugName()) or f"input_{i}"
        reader.env[inp.unique()] = reader.b.graph.add_input(nm, _jit_type(inp))
    reader.walk(graph.nodes())
    b = reader.b
    for o in graph.outputs():
        for v in _flatten(reader.env.get(o.unique())):
            if isinstance(v, Value):
                b.graph.outputs.append(v)
    b.modules = {k: v for k, v in b.modules.items() if v}
    return b.finish({"format": "pytorch", "capture": capture, "producer": _torch_version()})


def record_shapes(graph, script_module, example: tuple) -> None:
    """Give every top-level tensor of ``graph`` (an inlined TorchScript graph) the type it has
    when the graph runs on ``example``: a copy of the graph returns all its tensors, and the
    TorchScript interpreter runs it (ATen ops only: TorchScript holds no Python)."""
    import torch
    probe = graph.copy()
    mine = [o for n in graph.nodes() for o in n.outputs()]
    theirs = [o for n in probe.nodes() for o in n.outputs()]
    picked = [k for k, o in enumerate(theirs) if o.type().kind() == "TensorType"]
    every = probe.create("prim::TupleConstruct", [theirs[k] for k in picked])
    probe.appendNode(every)
    every.output().setType(torch._C.TupleType([theirs[k].type() for k in picked]))
    probe.eraseOutput(0)  # a method returns one value: the tuple of every tensor
    probe.registerOutput(every.output())
    fn = torch._C._create_function_from_graph("graphscope_shapes", probe)
    try:
        with torch.no_grad(), _quiet():
            outs = (None, *fn(script_module._c, *example))
    except Exception as exc:  # wrong shapes or dtypes for the archive's graph
        shapes = ", ".join("x".join(map(str, x.shape)) if isinstance(x, torch.Tensor)
                           else type(x).__name__ for x in example)
        raise ShapeError(f"the TorchScript module cannot run on inputs of shape {shapes}: "
                         f"{_first_line(exc)}") from None
    for v, x in zip(list(graph.inputs())[1:], example):
        if isinstance(x, torch.Tensor):
            v.setType(torch._C.TensorType.create_from_tensor(x))
    for k, t in zip(picked, outs[1:]):
        if isinstance(t, torch.Tensor):
            mine[k].setType(torch._C.TensorType.create_from_tensor(t))


def token_inputs(script_module) -> set[int]:
    """Positions of the inputs that reach an embedding's indices through view-like ops:
    those are token ids (int64), the rest floats."""
    passes = {"aten::view", "aten::reshape", "aten::slice", "aten::select", "aten::unsqueeze",
              "aten::contiguous", "aten::expand", "aten::flatten", "aten::clone", "aten::to",
              "aten::transpose", "aten::permute", "aten::squeeze"}
    graph = script_module.inlined_graph
    out = set()
    for pos, inp in enumerate(list(graph.inputs())[1:]):
        todo, seen = [inp], set()
        while todo:
            v = todo.pop()
            if v.unique() in seen:
                continue
            seen.add(v.unique())
            for use in v.uses():
                kind = use.user.kind()
                if kind == "aten::embedding" and use.offset == 1 or kind == "aten::ne":
                    out.add(pos)
                elif kind in passes and use.offset == 0:
                    todo.extend(use.user.outputs())
    return out


class _ScriptReader:
    def __init__(self, script_module, name: str, live):
        self.b = Builder(name)
        self.state = dict(script_module.named_parameters())
        # buffers are not parameters: an archive no longer says which ones were persistent
        self.param_names = set(self.state)
        self.state.update(dict(script_module.named_buffers()))
        self.classes = _module_classes(live if live is not None else script_module)
        self.env: dict[Any, Any] = {}
        self.counter = 0

    def walk(self, nodes) -> None:
        for node in nodes:
            self.node(node)

    def node(self, node) -> None:
        import torch
        env, kind, outs = self.env, node.kind(), list(node.outputs())
        ins = [env.get(i.unique()) for i in node.inputs()]
        if kind == "prim::GetAttr":
            env[outs[0].unique()] = self.attribute(ins[0], node.s("name"))
        elif kind == "prim::Constant":
            value = outs[0].toIValue() if outs[0].type().kind() != "NoneType" else None
            env[outs[0].unique()] = self.b.const(value.numpy()) \
                if isinstance(value, torch.Tensor) else value
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct"):
            env[outs[0].unique()] = ins
        elif kind == "prim::DictConstruct":  # a traced dict output: keys and values alternate
            env[outs[0].unique()] = dict(zip(map(str, ins[::2]), ins[1::2]))
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            for k, o in enumerate(outs):
                env[o.unique()] = ins[0][k] if isinstance(ins[0], list) and k < len(ins[0]) \
                    else None
        elif kind in ("prim::TupleIndex", "aten::__getitem__") and isinstance(ins[0], list) \
                and isinstance(ins[1], int):
            env[outs[0].unique()] = ins[0][ins[1]]
        elif kind == "prim::If" and isinstance(ins[0], bool):
            # a branch on a module setting (scripted code): read the branch that is taken
            block = list(node.blocks())[0 if ins[0] else 1]
            self.walk(block.nodes())
            for o, r in zip(outs, block.returnNode().inputs()):
                env[o.unique()] = env.get(r.unique())
        elif kind == "aten::__not__" and isinstance(ins[0], bool):
            env[outs[0].unique()] = not ins[0]
        else:
            self.op(node, kind, ins, outs)

    def attribute(self, base, name: str):
        """A module attribute: a weight, a submodule, or a plain setting (bool, int...)."""
        if not isinstance(base, tuple):
            return None
        path = f"{base[1]}.{name}".lstrip(".")
        if path in self.state:
            if path in self.b.graph.values:
                return self.b.graph.values[path]
            w = self.b.weight(path, self.state[path], parameter=path in self.param_names)
            if path not in self.param_names:
                w.meta["constant"] = True
            return w
        obj = getattr(base[2], name, None)
        if isinstance(obj, (bool, int, float, str)):
            return obj
        return ("module", path, obj)

    def op(self, node, kind: str, ins: list, outs: list) -> None:
        self.counter += 1
        base = kind.split("::", 1)[1]
        names = _jit_arg_names(node)
        args = {names[k] if k < len(names) else f"arg{k}": v for k, v in enumerate(ins)}
        values = []
        for k, o in enumerate(outs):
            v = self.b.graph.value(f"{base}_{self.counter}" + (f":{k}" if len(outs) > 1 else ""))
            v.type = _jit_type(o)
            self.env[o.unique()] = v
            values.append(v)
        namespace = _scope_namespace(node.scopeName())
        if not namespace:  # scripted code has no scopes: the module whose weight it reads
            w = next((v.name for v in _flatten(ins) if isinstance(v, Value) and v.is_weight
                      and not v.meta.get("constant")), "")
            namespace = w.rpartition(".")[0].replace(".", "/")
        for ns in _prefixes(namespace):
            self.b.module(ns, self.classes.get(ns, ""))
        self.b.op(f"{base}_{self.counter}", base, args, values, namespace, kind)


def _jit_arg_names(node) -> list[str]:
    try:
        import torch
        return [a.name for a in torch._C.parse_schema(node.schema()).arguments]
    except Exception:  # no schema ('(no schema)') for prim ops
        return []


def _jit_type(v) -> TensorType:
    t = v.type()
    if t.kind() != "TensorType":
        return TensorType("int64", ()) if t.kind() == "IntType" else TensorType()
    sizes = _sizes(t)
    dtype = t.scalarType()
    return TensorType(_SCALAR_TYPES.get(dtype), sizes)


_SCALAR_TYPES = {"Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16",
                 "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8",
                 "Byte": "uint8", "Bool": "bool"}


def _sizes(t):
    try:
        sizes = t.sizes()
    except RuntimeError:  # rank unknown
        return None
    return None if sizes is None or any(d is None for d in sizes) else tuple(sizes)


def _scope_namespace(scope: str) -> str:
    """'__module.layer1/__module.layer1.0/__module.layer1.0.conv1' -> 'layer1/0/conv1'."""
    if not scope:
        return ""
    last = scope.split("/")[-1]
    return last.replace("__module.", "", 1).replace("__module", "").replace(".", "/").strip("/")


def _prefixes(ns: str):
    parts = ns.split("/") if ns else []
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def _module_classes(module) -> dict[str, str]:
    out = {}
    for path, m in module.named_modules():
        if path:
            cls = getattr(m, "original_name", None) or type(m).__name__
            out[path.replace(".", "/")] = cls
    return out
