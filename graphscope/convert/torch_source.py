"""IR -> readable PyTorch source: a plain .py file with one nn.Module class, as a person would
write it, plus its weights as a state_dict.

Weighted layers become nn submodules (Conv -> nn.Conv2d, BatchNormalization -> nn.BatchNorm2d,
Gemm/MatMul on a weight -> nn.Linear, ...) named after their IR node; every other node becomes
one statement of ``forward`` using F.* and torch.* calls, with locals named after the values.
Shape arithmetic the IR knows the answer to (Shape -> Gather -> Concat -> Reshape) is folded
into constants, and statements nobody reads are dropped.

The generated file imports torch only. Each op's semantics follow the torch interpreter
(runtime/torch.py), spelled out as source. Emitters are registered per op in EMITTERS:
``@emitter("Relu")`` def f(w, node) writes the node's statement through the _Writer ``w``.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import GraphError, UnsupportedError, UsageError, require
from ..fileio import atomic_output, write_atomic
from ..ir.graph import Graph, Node, Value
from ..ir.ops import attr
from ..ir.shapes import ONNX_DTYPES, const, const_float, explicit_pads
from ..registry import keyed_registry
from .to_onnx import lowered_for, missing_ops, refuse_missing

EMITTERS: dict[str, Callable] = {}
emitter = keyed_registry(EMITTERS)

IMPORTS = ("import torch", "import torch.nn as nn", "import torch.nn.functional as F")
_LOCAL_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"torch", "nn", "F", "self"}
# ops whose bodies are subgraphs: each subgraph is written as a nested function of forward()
CONTROL_FLOW = {"If", "Loop", "Scan"}
_BIG = 2 ** 31 - 1  # slice ends at or past this mean "to the end"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class GeneratedSource:
    """``code``: the module's source; ``state_dict``: its weights, keyed as the generated
    class's ``state_dict()``; ``node_of``: submodule attribute -> IR node name; ``local_of``:
    IR value name -> the local variable of forward() holding it (for --verify)."""

    code: str
    state_dict: dict[str, np.ndarray]
    class_name: str
    node_of: dict[str, str] = field(default_factory=dict)
    local_of: dict[str, str] = field(default_factory=dict)  # IR value -> forward()'s local


# -- public API -------------------------------------------------------------------------------
def generate(graph: Graph, class_name: str = "ConvertedModel") -> GeneratedSource:
    """PyTorch source for ``graph``. Raises UnsupportedError naming ops with no generator."""
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise UsageError(f"class name '{class_name}' is not a Python identifier")
    # framework ops with no generator are lowered to ONNX ops first, as for every backend
    shared = _shared_ops()
    graph = lowered_for(graph, lambda op: op in EMITTERS or op in shared or "." not in op)
    missing = missing_ops(graph, lambda op: op in EMITTERS or op in shared)
    if missing:
        raise refuse_missing(missing, "the PyTorch source generator")
    writer = _Writer(graph)
    for node in graph.nodes:
        if node.name not in writer.absorbed:
            writer.emit_node(node)
    return writer.finish(class_name)


def instantiate(generated: GeneratedSource):
    """Run the generated source (our own output) in a fresh namespace, build the class, load
    the state_dict strictly and return the module in eval mode."""
    torch = require("torch", "torch", "building a generated PyTorch module")
    filename = f"<graphscope generated {generated.class_name}>"
    # registered with linecache so that tracebacks through forward() show the source lines
    linecache.cache[filename] = (len(generated.code), None, generated.code.splitlines(True),
                                 filename)
    namespace: dict = {"__name__": f"graphscope_generated_{generated.class_name}"}
    exec(compile(generated.code, filename, "exec"), namespace)  # noqa: S102 - our own code
    with torch.device("meta"):  # no default weights allocated (or initialised) to be replaced
        module = namespace[generated.class_name]()
    module.load_state_dict(_tensors(torch, generated.state_dict), strict=True, assign=True)
    return module.eval()


def run_capturing(module, *args) -> tuple[object, dict]:
    """Run a generated module; returns (its outputs, forward()'s local variables at return),
    which with GeneratedSource.local_of give every intermediate value by IR name."""
    import sys
    forward, seen = type(module).forward.__code__, {}

    def on_call(frame, event, arg):
        if frame.f_code is not forward:
            return None

        def on_line(frame, event, arg):
            if event == "return":
                seen.update(frame.f_locals)
            return on_line
        return on_line
    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        out = module(*args)
    finally:
        sys.settrace(previous)
    return out, seen


def write(generated: GeneratedSource, py_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the source to ``py_path`` and the weights to ``py_path.with_suffix('.pth')``
    (torch.save of tensors), both atomically. Returns the two paths."""
    torch = require("torch", "torch", "writing generated PyTorch source")
    py_path = Path(py_path)
    pth_path = py_path.with_suffix(".pth")
    with atomic_output(pth_path) as f:  # straight to the file: no second copy in memory
        torch.save(_tensors(torch, generated.state_dict), f)
    write_atomic(py_path, generated.code)
    return py_path, pth_path


def _tensors(torch, state: dict[str, np.ndarray]) -> dict:
    """Tensors sharing the arrays' memory where torch can (writable, contiguous)."""
    from ..runtime.torch import owned_array
    return {k: torch.from_numpy(owned_array(v)) for k, v in state.items()}


# -- the shared op functions (runtime/torch_ops.py) --------------------------------------------
# ops written with the shared function even though an emitter exists: the emitter's readable
# form is not exact for every ONNX attribute and type (modes, integer types, variadic inputs)
SHARED_FIRST = {"Resize", "Upsample", "Clip", "Max", "Min", "Sum", "Mean", "Pad", "TopK",
                "ArgMax", "ArgMin", "Attention", "Split", "Expand", "Tile", "IsInf"}


# emitters that write every output of a node (the others write the first only)
MULTI_OUTPUT_EMITTERS = {"LSTM", "GRU", "RNN", "torch.unbind", "If", "Loop", "Scan"}


def _torch_types() -> dict:
    from ..runtime.torch_ops import ONNX_TORCH_DTYPES
    return ONNX_TORCH_DTYPES


def _shared_ops() -> dict[str, Callable]:
    from ..runtime.torch import function_ops
    return function_ops()


def _shared_source(names: set[str]) -> str:
    """The text of the named torch_ops functions and of the helpers and constants they use,
    in the module's order, decorators left out."""
    if not names:
        return ""
    import ast
    import inspect

    from ..runtime import torch_ops, torch_ops_layers
    # (module, statement index) orders the copies as the modules define them
    defs: dict[str, tuple[tuple[int, int], ast.AST, str]] = {}
    for m, module in enumerate((torch_ops, torch_ops_layers)):
        text = inspect.getsource(module)
        for i, st in enumerate(ast.parse(text).body):
            if isinstance(st, ast.FunctionDef):
                defs[st.name] = ((m, i), st, text)
            elif isinstance(st, ast.Assign):
                for t in st.targets:
                    if isinstance(t, ast.Name):
                        defs[t.id] = ((m, i), st, text)
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in wanted or name not in defs:
            continue
        wanted.add(name)
        todo += [n.id for n in ast.walk(defs[name][1]) if isinstance(n, ast.Name)]
    parts = sorted({defs[n][0]: defs[n][1:] for n in wanted}.items(), key=lambda kv: kv[0])
    body = "\n\n\n".join(ast.get_source_segment(text, st) for _, (st, text) in parts)
    return ("# ONNX operator semantics, shared with the interpreter that reads the model\n\n"
            + body)


# -- formatting helpers -------------------------------------------------------------------------
def _identifier(text: str, fallback: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not s:
        return fallback
    return f"{fallback}_{s}" if s[0].isdigit() else s


class _Names:
    """Unique Python identifiers derived from arbitrary names."""

    def __init__(self, reserved: set[str]):
        self.reserved = set(reserved)
        self.used = set(reserved)

    def fresh(self, text: str, fallback: str = "v") -> str:
        base = name = _identifier(text, fallback)
        if base in self.reserved:  # class -> class_, as PEP 8 suggests
            name = base + "_"
        i = 1
        while name in self.used:
            name = f"{base}_{i}"
            i += 1
        self.used.add(name)
        return name


def _num(x) -> str:
    """A number as a Python literal; float32 values in their shortest exact spelling."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    f = float(x)
    if math.isinf(f):
        return 'float("inf")' if f > 0 else 'float("-inf")'
    if math.isnan(f):
        return 'float("nan")'
    s = repr(f)
    if float(np.float32(f)) == f:  # a float32 value: its shortest spelling, kept in range
        short = str(np.float32(f))
        if abs(float(short)) <= _FLOAT32_MAX:
            s = short
    return s if any(c in s for c in ".e") else s + ".0"


def _tuple(values) -> str:
    values = [_num(v) for v in values]
    return f"({values[0]},)" if len(values) == 1 else f"({', '.join(values)})"


def _size(values) -> str:
    """An nn size argument: one number when every entry is the same, else a tuple."""
    values = list(values)
    return _num(values[0]) if values and all(v == values[0] for v in values) else _tuple(values)


def _dims(values) -> str:
    """Dims as call arguments: ``2, 16, -1``."""
    return ", ".join(str(v) if isinstance(v, _Code) else _num(v) for v in values)


def _torch_dtype(dtype: str) -> str:
    return f"torch.{dtype}"


def _kwargs(**kw) -> str:
    """``k=v`` pairs for the values that are not None (values are already code)."""
    return "".join(f", {k}={v}" for k, v in kw.items() if v is not None)


def _index(axis: int, item: str) -> str:
    """A subscript selecting ``item`` on ``axis``: ``[:, :, item]``."""
    return "[" + ", ".join([":"] * axis + [item]) + "]"


class _Code(str):
    """A dimension given as a Python expression (``x.shape[0]``) rather than a number."""


# -- the writer -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Ref:
    expr: str
    var: str | None = None    # the local variable the expression reads
    attr: str | None = None   # the tensor attribute it reads


@dataclass
class _Module:
    attr: str
    ctor: str
    state: dict[str, np.ndarray]
    node: str


@dataclass
class _Tensor:
    attr: str
    array: np.ndarray

    @property
    def parameter(self) -> bool:
        return self.array.dtype.kind in "fc"


@dataclass
class _Stmt:
    node: Node | None
    lines: list[str] = field(default_factory=list)
    defines: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    attrs: list[str] = field(default_factory=list)
    modules: list[_Module] = field(default_factory=list)


class _Writer:
    """Collects one statement per node; finish() drops dead statements and assembles the
    class. Emitters read inputs through ref()/ints()/array() and write through assign()."""

    def __init__(self, graph: Graph):
        torch = require("torch", "torch", "generating PyTorch source")
        self.graph = graph
        self.locals = _Names(_LOCAL_RESERVED | {f.__name__ for f in _shared_ops().values()})
        self.attrs = _Names(set(dir(torch.nn.Module)) | {"forward"})
        self.refs: dict[str, _Ref] = {}
        self.tensors: dict[str, _Tensor] = {}
        self.stmts: list[_Stmt] = []
        self.absorbed: set[str] = set()  # nodes folded into an earlier statement
        self.shared: set[str] = set()  # runtime/torch_ops functions the statements call
        self.cur: _Stmt | None = None
        self.args: list[str] = []
        self.symbols: dict[str, str] = {}  # symbolic dim -> code reading it from an input
        for v in graph.inputs:
            name = self.locals.fresh(v.name, "input")
            self.args.append(name)
            self.refs[v.name] = _Ref(name, var=name)
            for i, d in enumerate(v.type.shape or ()):
                if isinstance(d, str):
                    self.symbols.setdefault(d, f"{name}.shape[{i}]")

    # -- statements ---------------------------------------------------------------------
    def emit_node(self, node: Node) -> None:
        self.cur = _Stmt(node)
        self.stmts.append(self.cur)
        shared = _shared_ops()
        several = sum(1 for v in node.outputs if v.name) > 1 and \
            node.op not in MULTI_OUTPUT_EMITTERS
        if node.op in shared and node.op not in EMITTERS and not several and \
                self.inline_shared(node, shared[node.op]):
            pass
        elif node.op in shared and (node.op not in EMITTERS or node.op in SHARED_FIRST or
                                    several):
            self.call_shared(node, shared[node.op])
        else:
            absorbed = set(self.absorbed)
            try:
                EMITTERS[node.op](self, node)
            except UnsupportedError:
                if node.op not in shared or node.op in CONTROL_FLOW:
                    raise
                # the readable form needs what only the run knows: call the shared function
                self.absorbed = absorbed
                self.stmts[-1] = self.cur = _Stmt(node)
                self.call_shared(node, shared[node.op])
        self.cur = None

    def call_shared(self, node: Node, fn: Callable, bodies: dict[str, str] | None = None) -> None:
        """``y = onnx_op(inputs..., attr=value...)``: the op's function from
        runtime/torch_ops.py, the one the torch interpreter runs, copied into the file.
        ``bodies``: subgraph key -> the nested function written for it."""
        import inspect
        params = inspect.signature(fn).parameters
        keywords = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
        unknown = sorted(set(node.attrs) - set(keywords))
        if unknown:
            raise self.unsupported(f"attribute '{unknown[0]}' is not supported")
        to = node.attrs.get("to", node.attrs.get("dtype"))
        if isinstance(to, int) and to not in _torch_types():
            raise self.unsupported(f"ONNX element type {to} has no torch form")
        inputs = list(node.inputs)
        while inputs and inputs[-1] is None:
            inputs.pop()
        args = [("None" if v is None else self.ref(v)) for v in inputs]
        for k in keywords:
            if node.attrs.get(k) is not None:
                args.append(f"{k}={self.literal(node, k, node.attrs[k])}")
            elif k == "opset" and self.graph.metadata.get("opset") is not None:
                args.append(f"opset={int(self.graph.metadata['opset'])}")
            elif k == "n_outputs":
                args.append(f"n_outputs={len(node.outputs)}")
        args += [f"{k}={name}" for k, name in (bodies or {}).items()]
        self.shared.add(fn.__name__)
        call = f"{fn.__name__}({', '.join(args)})"
        if not getattr(fn, "multi_output", False):
            self.assign(node.outputs[0], call)
            return
        names = [self.out(v) if v.name else "_" for v in node.outputs]
        self.line(f"{', '.join(names)}, *_ = {call}")

    def inline_shared(self, node: Node, fn: Callable) -> bool:
        """``y = <the function's return expression>`` with the node's inputs and attributes
        put in for its parameters, when the op's shared function is one expression over
        its parameters, torch, F and builtins: ``F.gelu(x, approximate='none')``. The
        source then reads as torch code and still says what the interpreter runs."""
        form = _inline_form(fn)
        if form is None:
            return False
        expr, positional, keywords = form
        if set(node.attrs) - set(keywords):
            return False  # call_shared names the unknown attribute
        values = {}
        for i, name in enumerate(positional):
            v = node.inputs[i] if i < len(node.inputs) else None
            values[name] = "None" if v is None else self.ref(v)
        for name, default in keywords.items():
            value = node.attrs.get(name)
            values[name] = default if value is None else self.literal(node, name, value)
        tree = _Substitute({k: ast.parse(v, mode="eval").body for k, v in values.items()}
                           ).visit(ast.parse(expr, mode="eval"))
        self.assign(node.outputs[0], ast.unparse(ast.fix_missing_locations(tree)))
        return True

    def subgraph_function(self, node: Node, key: str) -> str:
        """Write ``def <name>(inputs...): ...; return [outputs...]`` for node.subgraphs[key]
        into the current statement, as a function nested in forward() (it reads the enclosing
        values by name, as ONNX subgraphs do). Returns its name."""
        graph = node.subgraphs[key]
        name = self.locals.fresh(f"{_scope(node)}_{key}", "body")
        outer, outer_stmts, outer_refs = self.cur, self.stmts, dict(self.refs)
        self.stmts = []
        try:
            params = []
            for v in graph.inputs:
                params.append(self.locals.fresh(v.name, "input"))
                self.refs[v.name] = _Ref(params[-1], var=params[-1])
            for n in graph.nodes:
                if n.name not in self.absorbed:
                    self.emit_node(n)
            self.cur = _Stmt(None)
            self.stmts.append(self.cur)
            self.cur.lines.append(f"return [{', '.join(self.ref(v) for v in graph.outputs)}]")
            kept = _live(self.stmts)
        finally:
            self.stmts, self.cur = outer_stmts, outer
            # the body's locals end with it; its tensor attributes stay known
            self.refs = {**outer_refs, **{k: r for k, r in self.refs.items()
                                          if k not in outer_refs and r.var is None}}
        defined = set(params) | {d for st in kept for d in st.defines}
        outer.uses |= {u for st in kept for u in st.uses} - defined
        for st in kept:
            outer.attrs += [a for a in st.attrs if a not in outer.attrs]
            outer.modules += st.modules
        outer.lines.append(f"def {name}({', '.join(params)}):")
        outer.lines += [f"    {line}" for st in kept for line in st.lines]
        return name

    def literal(self, node: Node, key: str, value) -> str:
        """An attribute value as code: numbers, strings, lists; arrays as tensor attributes."""
        if isinstance(value, np.ndarray):
            ref = self.tensor_ref(f"{node.name}.{key}", value, f"{node.name}_{key}")
            self.cur.attrs.append(ref.attr)
            return ref.expr
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.literal(node, key, v) for v in value) + "]"
        if isinstance(value, str):
            return repr(value)
        if isinstance(value, (np.generic,)):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float)):
            return "None" if value is None else _num(value)
        raise self.unsupported(f"attribute '{key}' of type {type(value).__name__}")

    def line(self, text: str) -> None:
        self.cur.lines.append(text)

    def out(self, v: Value, base: str | None = None) -> str:
        """The local variable holding ``v`` (created on first call, named after ``base``
        when given)."""
        ref = self.refs.get(v.name)
        if ref is None:
            # a layer's output is named after the layer: x = self.conv1(...)
            base = base or (self.cur.modules[-1].attr if self.cur.modules else _value_base(v))
            name = self.locals.fresh(base)
            ref = self.refs[v.name] = _Ref(name, var=name)
        self.cur.defines.add(ref.var)
        return ref.expr

    def assign(self, v: Value, expr: str) -> None:
        self.line(f"{self.out(v)} = {expr}")

    def assign_all(self, values: list[Value], expr: str) -> None:
        """``a, b = expr`` for an expression returning a sequence."""
        names = [self.out(v) for v in values]
        target = f"{names[0]}," if len(names) == 1 else ", ".join(names)
        self.line(f"{target} = {expr}")

    def alias(self, v: Value, source: Value) -> None:
        """``v`` is ``source``: no statement, later reads use the source's expression."""
        self.ref(source)  # registers a weight source
        self.refs[v.name] = self.refs[source.name]

    def temp(self, base: str) -> str:
        name = self.locals.fresh(base)
        self.cur.defines.add(name)
        return name

    # -- reading inputs -------------------------------------------------------------------
    def ref(self, v: Value | None) -> str:
        """Code for an input value; a constant becomes a tensor attribute on first use."""
        if v is None:
            raise self.unsupported("an omitted optional input is needed here")
        ref = self.refs.get(v.name)
        if ref is None:
            array = self.array(v)
            if array is None:
                node = self.cur.node.name if self.cur.node is not None else None
                raise GraphError(f"value '{v.name}' is read before it is produced", node=node)
            ref = self.tensor_ref(v.name, array)
        if ref.var is not None:
            self.cur.uses.add(ref.var)
        if ref.attr is not None and ref.attr not in self.cur.attrs:
            self.cur.attrs.append(ref.attr)
        return ref.expr

    def tensor_ref(self, key: str, array: np.ndarray, base: str | None = None) -> _Ref:
        """A tensor attribute (nn.Parameter when floating point, else a buffer)."""
        name = self.attrs.fresh(base or key, "const")
        self.tensors[name] = _Tensor(name, np.asarray(array))
        ref = self.refs[key] = _Ref(f"self.{name}", attr=name)
        return ref

    def array(self, v: Value | None) -> np.ndarray | None:
        """The contents of a constant input (a weight or a Constant node's output)."""
        if v is None:
            return None
        if v.data is not None:
            return np.asarray(v.data.array)
        p = v.producer
        if p is not None and p.op == "Constant" and p.attrs.get("value") is not None:
            return np.asarray(p.attrs["value"])
        return None

    def ints(self, v: Value | None) -> list[int] | None:
        """A small integer constant's entries, when all are known numbers."""
        values = self.dims(v)
        if values is None or not all(isinstance(d, int) for d in values):
            return None
        return values

    def dims(self, v: Value | None) -> list | None:
        """A small integer constant's entries; symbols (str) and None for unknown entries."""
        if v is None:
            return None
        values = const(v)
        if values is None:
            array = self.array(v)
            if array is not None and array.dtype.kind in "iu":
                values = [int(x) for x in array.reshape(-1)]
        return None if values is None else list(values)

    def floats(self, v: Value | None) -> list[float] | None:
        if v is None:
            return None
        values = const_float(v)
        if values is None:
            array = self.array(v)
            if array is not None and array.dtype.kind in "fiu":
                values = [float(x) for x in array.reshape(-1)]
        return values

    def scalar(self, v: Value | None) -> str | None:
        """A one-element numeric constant as a Python literal."""
        array = self.array(v)
        if array is None or array.size != 1 or array.dtype.kind not in "fiu":
            return None
        return _num(array.reshape(-1)[0])

    def shape(self, v: Value | None) -> tuple | None:
        return None if v is None else v.type.shape

    def rank(self, v: Value | None) -> int | None:
        shape = self.shape(v)
        return None if shape is None else len(shape)

    def static(self, v: Value | None) -> tuple[int, ...] | None:
        shape = self.shape(v)
        if shape is None or not all(isinstance(d, int) for d in shape):
            return None
        return tuple(shape)

    def dtype(self, v: Value | None) -> str | None:
        return None if v is None else v.type.dtype

    # -- layers -----------------------------------------------------------------------------
    def submodule(self, node: Node, ctor: str, state: dict[str, np.ndarray]) -> str:
        """Declare ``self.<name> = ctor`` for ``node``; returns ``self.<name>``."""
        name = self.attrs.fresh(node.namespace or _scope(node), "layer")
        self.cur.modules.append(_Module(name, ctor, state, node.name))
        return f"self.{name}"

    def unsupported(self, what: str):
        return UnsupportedError(f"{self.cur.node.op}: {what}", node=self.cur.node.name)

    def padded(self, src: str, pads: list[int], n: int, value: str | None = None) -> str:
        """Emit ``tmp = F.pad(src, ...)`` for ONNX pads [b1..bn, e1..en] over the last n dims."""
        tmp = self.temp(f"{src.split('.')[-1]}_padded")
        self.line(f"{tmp} = F.pad({src}, {_torch_pads(pads, n)}{_kwargs(value=value)})")
        return tmp

    # -- assembly ---------------------------------------------------------------------------
    def finish(self, class_name: str) -> GeneratedSource:
        ret = _Stmt(None)
        self.stmts.append(ret)
        self.cur = ret
        outs = [self.ref(v) for v in self.graph.outputs]
        self.cur = None
        if outs:
            ret.lines.append("return " + ", ".join(outs))
        kept = _live(self.stmts)
        init, state, node_of, declared = [], {}, {}, set()
        for st in kept:
            for m in st.modules:
                init.append(f"self.{m.attr} = {m.ctor}")
                state.update({f"{m.attr}.{k}": v for k, v in m.state.items()})
                node_of[m.attr] = m.node
            for name in st.attrs:
                if name not in declared:
                    declared.add(name)
                    t = self.tensors[name]
                    init.append(_tensor_decl(t))
                    state[name] = t.array
        used = {name for st in kept for line in st.lines for name in self.shared
                if f"{name}(" in line}
        code = _assemble(self.graph, class_name, init, self.args, kept, self._doc(),
                         _shared_source(used))
        defined = {name for st in kept for name in st.defines}
        local_of = {value: ref.var for value, ref in self.refs.items()
                    if ref.var is not None and ref.expr == ref.var and ref.var in defined}
        return GeneratedSource(code, state, class_name, node_of, local_of)

    def _doc(self) -> str:
        def sig(values):
            return ", ".join(f"{self.refs[v.name].expr if v.name in self.refs else v.name} "
                             f"{v.type.dtype or '?'} {v.type.shape_str()}" for v in values)
        return f"{sig(self.graph.inputs)} -> {sig(self.graph.outputs)}"


_INLINE_NAMES = {"torch", "F", "tuple", "range", "len", "bool", "int", "float", "None"}


def _inline_form(fn: Callable):
    """(return expression, positional parameter names, keyword parameter -> default code) of
    a shared function whose body is ``return <expr>`` over its parameters, torch, F and a
    few builtins; None for any other function."""
    import inspect
    cached = _INLINE_CACHE.get(fn)
    if cached is not None or fn in _INLINE_CACHE:
        return cached
    tree = ast.parse(inspect.getsource(fn)).body[0]
    body = [st for st in tree.body
            if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))]
    a = tree.args
    form = None
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None and \
            a.vararg is None and a.kwarg is None and not a.args:
        positional = [p.arg for p in a.posonlyargs]
        keywords = {p.arg: ("None" if d is None else ast.unparse(d))
                    for p, d in zip(a.kwonlyargs, a.kw_defaults)}
        names = {n.id for n in ast.walk(body[0].value) if isinstance(n, ast.Name)}
        if names <= set(positional) | set(keywords) | _INLINE_NAMES and \
                "opset" not in keywords and "n_outputs" not in keywords:
            form = (ast.unparse(body[0].value), positional, keywords)
    _INLINE_CACHE[fn] = form
    return form


_INLINE_CACHE: dict = {}


class _Substitute(ast.NodeTransformer):
    """Parameters -> the expressions put in for them."""

    def __init__(self, values: dict):
        self.values = values

    def visit_Name(self, node):
        return self.values.get(node.id, node)


def _scope(node: Node) -> str:
    """A node's path without a trailing op component: '/layer1/0/conv1/Conv' ->
    'layer1/0/conv1'; 'conv1' stays 'conv1'."""
    parts = node.name.strip("/").split("/")
    op = re.escape(node.op.split(".")[-1])
    if len(parts) > 1 and re.fullmatch(rf"{op}(_\d+)?", parts[-1], re.IGNORECASE):
        parts = parts[:-1]
    return "/".join(parts)


def _value_base(v: Value) -> str:
    """What a local variable for ``v`` is named after: its producer's path when the value is
    the node's one output ('/layer1/0/conv1/Conv_output_0' -> 'layer1/0/conv1'), else the
    value's own name."""
    p = v.producer
    if p is not None and len(p.outputs) == 1 and v.name.startswith(p.name) and \
            re.fullmatch(r"(_out(put)?(_0)?)?", v.name[len(p.name):]):
        return _scope(p)
    return re.sub(r"_output_0$", "", v.name)


def _live(stmts: list[_Stmt]) -> list[_Stmt]:
    """The statements whose results are read (the final return statement always is)."""
    live: set[str] = set()
    kept = []
    for st in reversed(stmts):
        if st.node is None or st.defines & live:
            kept.append(st)
            live |= st.uses
    return kept[::-1]


def _tensor_decl(t: _Tensor) -> str:
    shape = ", ".join(str(d) for d in t.array.shape) or "()"
    dtype = "" if t.array.dtype == np.float32 else f", dtype={_torch_dtype(t.array.dtype.name)}"
    zeros = f"torch.zeros({shape}{dtype})"
    if t.parameter:
        return f"self.{t.attr} = nn.Parameter({zeros})"
    return f'self.register_buffer("{t.attr}", {zeros})'


def _assemble(graph: Graph, class_name: str, init: list[str], args: list[str],
              stmts: list[_Stmt], doc: str, shared: str = "") -> str:
    # names come from the model file: repr() keeps them inside the comment line
    fmt = graph.metadata.get("format")
    origin = repr(str(graph.name)) + (f" ({re.sub(r'[^0-9A-Za-z_.-]', '', str(fmt))})"
                                      if fmt else "")
    out = [f"# PyTorch source generated by graphscope from the model {origin}.",
           "# The weights are in the .pth file of the same name beside this one:",
           f"#     model = {class_name}()",
           '#     model.load_state_dict(torch.load("<this file>.pth"))',
           "#     model.eval()",
           *IMPORTS, "", "",
           *([shared, "", ""] if shared else []),
           f"class {class_name}(nn.Module):",
           "    def __init__(self):",
           "        super().__init__()"]
    out += [f"        {line}" for line in init]
    out += ["", f"    def forward(self{''.join(f', {a}' for a in args)}):"]
    if len(doc) <= 80:
        out.append(f'        """{doc}"""')
    else:  # one line per input and output
        ins, outs = doc.split(" -> ")
        out += ['        """Inputs:', *(f"        {d}" for d in ins.split(", ")), "",
                "        Outputs:", *(f"        {d}" for d in outs.split(", ")), '        """']
    out += [f"        {line}" for st in stmts for line in st.lines]
    return "\n".join(out) + "\n"


def _torch_pads(pads: list[int], n: int) -> str:
    """ONNX pads [b1..bn, e1..en] as F.pad's tuple (last dim first), trailing zeros cut."""
    order: list[int] = []
    for i in reversed(range(n)):
        order += [int(pads[i]), int(pads[i + n])]
    while len(order) > 2 and order[-1] == 0 and order[-2] == 0:
        order = order[:-2]
    return _tuple(order)


def _norm_axis(w: _Writer, axis: int, rank: int | None) -> int:
    if axis >= 0:
        return axis
    if rank is None:
        raise w.unsupported(f"negative axis {axis} on an input of unknown rank")
    return axis + rank


# -- convolution and pooling ----------------------------------------------------------------
def _pads(w: _Writer, node: Node, x: Value, kernel, strides, dil) -> list[int]:
    """The explicit [b1..bn, e1..en] pads, auto_pad resolved from the static input shape."""
    auto = attr(node, "auto_pad") or "NOTSET"
    spatial = None
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        shape = w.shape(x)
        spatial = None if shape is None else shape[2:]
        if spatial is None or len(spatial) != len(kernel) or \
                not all(isinstance(d, int) for d in spatial):
            raise w.unsupported(f"auto_pad={auto} needs static spatial input dims")
    return explicit_pads(auto, attr(node, "pads"), spatial, kernel, strides, dil)


def _conv_geometry(node: Node, weight_shape):
    n = len(weight_shape) - 2
    kernel = [int(k) for k in (attr(node, "kernel_shape") or weight_shape[2:])]
    strides = [int(s) for s in (attr(node, "strides") or [1] * n)]
    dil = [int(d) for d in (attr(node, "dilations") or [1] * n)]
    return n, kernel, strides, dil, int(attr(node, "group") or 1)


def _optional(node: Node, i: int) -> Value | None:
    return node.inputs[i] if len(node.inputs) > i else None


def _dtype_kw(array: np.ndarray) -> str | None:
    return None if array.dtype == np.float32 else _torch_dtype(array.dtype.name)


def _conv_operands(w: _Writer, node: Node):
    """(x, weight value, bias value, weight array, bias array, weight shape) of a conv."""
    x, wv, bv = node.inputs[0], node.inputs[1], _optional(node, 2)
    weight, bias = w.array(wv), w.array(bv)
    wshape = weight.shape if weight is not None else w.static(wv)
    if wshape is None:
        raise w.unsupported("the weight's rank is unknown")
    return x, wv, bv, weight, bias, wshape


@emitter("Conv")
def _conv(w: _Writer, node: Node):
    x, wv, bv, weight, bias, wshape = _conv_operands(w, node)
    n, kernel, strides, dil, group = _conv_geometry(node, wshape)
    pads = _pads(w, node, x, kernel, strides, dil)
    src = w.ref(x)
    padding = pads[:n]
    if pads[:n] != pads[n:]:  # asymmetric: pad first, as nn.Conv pads both sides alike
        src = w.padded(src, pads, n)
        padding = [0] * n
    if weight is not None and 1 <= n <= 3 and (bv is None or bias is not None):
        ctor = (f"nn.Conv{n}d({wshape[1] * group}, {wshape[0]}, {_size(kernel)}"
                + _kwargs(stride=_size(strides) if any(s != 1 for s in strides) else None,
                          padding=_size(padding) if any(padding) else None,
                          dilation=_size(dil) if any(d != 1 for d in dil) else None,
                          groups=str(group) if group != 1 else None,
                          bias="False" if bias is None else None, dtype=_dtype_kw(weight))
                + ")")
        state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        w.assign(node.outputs[0], f"{w.submodule(node, ctor, state)}({src})")
        return
    b = "None" if bv is None else w.ref(bv)
    w.assign(node.outputs[0], f"F.conv{n}d({src}, {w.ref(wv)}, {b}, stride={_size(strides)}, "
                              f"padding={_size(padding)}, dilation={_size(dil)}, groups={group})")


@emitter("ConvTranspose")
def _conv_transpose(w: _Writer, node: Node):
    x, wv, bv, weight, bias, wshape = _conv_operands(w, node)
    n, kernel, strides, dil, group = _conv_geometry(node, wshape)
    if (attr(node, "auto_pad") or "NOTSET") not in ("NOTSET", "VALID") or \
            node.attrs.get("output_shape"):
        raise w.unsupported("auto_pad SAME_* and output_shape are not generated")
    pads = [int(p) for p in (attr(node, "pads") or [0] * (2 * n))]
    if (attr(node, "auto_pad") or "NOTSET") == "VALID":
        pads = [0] * (2 * n)
    out_pad = [int(p) for p in (attr(node, "output_padding") or [0] * n)]
    symmetric = pads[:n] == pads[n:]
    padding = pads[:n] if symmetric else [0] * n
    src = w.ref(x)
    if weight is not None and 1 <= n <= 3 and (bv is None or bias is not None):
        ctor = (f"nn.ConvTranspose{n}d({wshape[0]}, {wshape[1] * group}, {_size(kernel)}"
                + _kwargs(stride=_size(strides) if any(s != 1 for s in strides) else None,
                          padding=_size(padding) if any(padding) else None,
                          output_padding=_size(out_pad) if any(out_pad) else None,
                          groups=str(group) if group != 1 else None,
                          bias="False" if bias is None else None,
                          dilation=_size(dil) if any(d != 1 for d in dil) else None,
                          dtype=_dtype_kw(weight))
                + ")")
        state = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
        expr = f"{w.submodule(node, ctor, state)}({src})"
    else:
        b = "None" if bv is None else w.ref(bv)
        expr = (f"F.conv_transpose{n}d({src}, {w.ref(wv)}, {b}, stride={_size(strides)}, "
                f"padding={_size(padding)}, output_padding={_size(out_pad)}, groups={group}, "
                f"dilation={_size(dil)})")
    if symmetric:
        w.assign(node.outputs[0], expr)
        return
    # asymmetric pads: compute the full output, then crop each side
    full = w.temp(f"{_value_base(node.outputs[0])}_full")
    w.line(f"{full} = {expr}")
    crops = [f"{pads[i] or ''}:{-pads[i + n] if pads[i + n] else ''}" for i in range(n)]
    w.assign(node.outputs[0], f"{full}[:, :, {', '.join(crops)}]")


def _pool(w: _Writer, node: Node, kind: str):
    x = node.inputs[0]
    if len(node.outputs) > 1 and (node.outputs[1].consumers or
                                  node.outputs[1] in w.graph.outputs):
        raise w.unsupported("the Indices output is not generated")
    kernel = [int(k) for k in attr(node, "kernel_shape")]
    n = len(kernel)
    strides = [int(s) for s in (attr(node, "strides") or [1] * n)]
    dil = [int(d) for d in (attr(node, "dilations") or [1] * n)]
    pads = _pads(w, node, x, kernel, strides, dil)
    ceil = bool(attr(node, "ceil_mode"))
    symmetric = pads[:n] == pads[n:] and all(pads[i] <= kernel[i] // 2 for i in range(n))
    src = w.ref(x)
    stride = None if strides == kernel else _size(strides)  # torch's default stride is the kernel
    if kind == "max":
        if not symmetric:
            src = w.padded(src, pads, n, 'float("-inf")')
            pads = [0] * (2 * n)
        args = _kwargs(stride=stride, padding=_size(pads[:n]) if any(pads) else None,
                       dilation=_size(dil) if any(d != 1 for d in dil) else None,
                       ceil_mode="True" if ceil else None)
        w.assign(node.outputs[0], f"F.max_pool{n}d({src}, {_size(kernel)}{args})")
        return
    include = bool(attr(node, "count_include_pad"))
    if not symmetric:
        if not include:
            raise w.unsupported("asymmetric pads without count_include_pad")
        src = w.padded(src, pads, n)
        pads = [0] * (2 * n)
    if any(d != 1 for d in dil):
        raise w.unsupported("dilated average pooling")
    args = _kwargs(stride=stride, padding=_size(pads[:n]) if any(pads) else None,
                   ceil_mode="True" if ceil else None,
                   count_include_pad=None if include or not any(pads) else "False")
    w.assign(node.outputs[0], f"F.avg_pool{n}d({src}, {_size(kernel)}{args})")


@emitter("MaxPool")
def _maxpool(w, node):
    _pool(w, node, "max")


@emitter("AveragePool")
def _avgpool(w, node):
    _pool(w, node, "avg")


@emitter("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(w: _Writer, node: Node):
    x = node.inputs[0]
    rank = w.rank(x)
    kind = "avg" if node.op == "GlobalAveragePool" else "max"
    if rank in (3, 4, 5):
        w.assign(node.outputs[0], f"F.adaptive_{kind}_pool{rank - 2}d({w.ref(x)}, 1)")
        return
    fn = "mean" if kind == "avg" else "amax"
    src = w.ref(x)
    w.assign(node.outputs[0], f"{src}.{fn}(dim=tuple(range(2, {src}.dim())), keepdim=True)")


# -- dense layers -----------------------------------------------------------------------------
def _linear(w: _Writer, node: Node, src: str, weight: np.ndarray, bias: np.ndarray | None,
            out: Value) -> None:
    """``out = self.<layer>(src)`` with an nn.Linear of weight (out, in)."""
    ctor = (f"nn.Linear({weight.shape[1]}, {weight.shape[0]}"
            + _kwargs(bias="False" if bias is None else None, dtype=_dtype_kw(weight)) + ")")
    state = {"weight": np.ascontiguousarray(weight)}
    if bias is not None:
        state["bias"] = np.ascontiguousarray(bias)
    w.assign(out, f"{w.submodule(node, ctor, state)}({src})")


def _bias_vector(array: np.ndarray | None, size: int) -> np.ndarray | None:
    """A bias broadcast along the last dim as a (size,) vector, or None if it is not one."""
    if array is None:
        return None
    if array.size == size and array.shape in ((size,), (1, size)):
        return array.reshape(size)
    if array.size == 1 and array.ndim <= 2:
        return np.full(size, array.reshape(-1)[0], dtype=array.dtype)
    return None


@emitter("Gemm")
def _gemm(w: _Writer, node: Node):
    a, b, c = node.inputs[0], node.inputs[1], _optional(node, 2)
    alpha, beta = float(attr(node, "alpha")), float(attr(node, "beta"))
    trans_a, trans_b = bool(attr(node, "transA")), bool(attr(node, "transB"))
    weight = w.array(b)
    if weight is not None and weight.ndim == 2 and w.array(a) is None and not trans_a \
            and alpha == 1.0:
        weight = weight if trans_b else weight.T
        bias = None if c is None else _bias_vector(w.array(c), weight.shape[0])
        if c is None or (bias is not None and beta == 1.0):
            _linear(w, node, w.ref(a), weight, bias, node.outputs[0])
            return
    ea = w.ref(a) + (".t()" if trans_a else "")
    eb = w.ref(b) + (".t()" if trans_b else "")
    expr = f"torch.matmul({ea}, {eb})"
    if alpha != 1.0:
        expr = f"{_num(alpha)} * {expr}"
    if c is not None:
        ec = w.ref(c)
        expr += f" + {ec}" if beta == 1.0 else f" + {_num(beta)} * {ec}"
    w.assign(node.outputs[0], expr)


@emitter("MatMul")
def _matmul(w: _Writer, node: Node):
    a, b = node.inputs[0], node.inputs[1]
    weight = w.array(b)
    if weight is None or weight.ndim != 2 or w.array(a) is not None:
        w.assign(node.outputs[0], f"torch.matmul({w.ref(a)}, {w.ref(b)})")
        return
    # x @ W (+ bias in the one Add that reads it) is an nn.Linear with weight W.T
    out, bias = node.outputs[0], None
    add = out.consumers[0] if len(out.consumers) == 1 else None
    if add is not None and add.op == "Add" and out not in w.graph.outputs and \
            len(add.inputs) == 2:
        other = add.inputs[1] if add.inputs[0] is out else add.inputs[0]
        array = w.array(other)
        if array is not None and array.shape == (weight.shape[1],) and other is not out:
            bias = array
            w.absorbed.add(add.name)
            out = add.outputs[0]
    _linear(w, node, w.ref(a), weight.T, bias, out)


@emitter("torch.linear")
def _torch_linear(w: _Writer, node: Node):
    x, wv, bv = node.inputs[0], node.inputs[1], _optional(node, 2)
    weight, bias = w.array(wv), w.array(bv)
    if weight is not None and weight.ndim == 2 and (bv is None or bias is not None):
        _linear(w, node, w.ref(x), weight, bias, node.outputs[0])
        return
    b = "" if bv is None else f", {w.ref(bv)}"
    w.assign(node.outputs[0], f"F.linear({w.ref(x)}, {w.ref(wv)}{b})")


def _embedding_layer(w: _Writer, node: Node, table: np.ndarray) -> str:
    ctor = f"nn.Embedding({table.shape[0]}, {table.shape[1]}{_kwargs(dtype=_dtype_kw(table))})"
    return w.submodule(node, ctor, {"weight": table})


@emitter("Embedding")
def _embedding(w: _Writer, node: Node):
    idx, wv = node.inputs[0], node.inputs[1]
    weight = w.array(wv)
    src = w.ref(idx) + ("" if w.dtype(idx) in ("int64", "int32") else ".long()")
    if weight is not None and weight.ndim == 2:
        w.assign(node.outputs[0], f"{_embedding_layer(w, node, weight)}({src})")
        return
    w.assign(node.outputs[0], f"F.embedding({src}, {w.ref(wv)})")


# -- normalization ----------------------------------------------------------------------------
@emitter("BatchNormalization")
def _batchnorm(w: _Writer, node: Node):
    x = node.inputs[0]
    params = [w.array(v) for v in node.inputs[1:5]]
    eps = float(attr(node, "epsilon"))
    eps_kw = None if _num(eps) == "1e-05" else _num(eps)
    rank = w.rank(x)
    if all(p is not None for p in params) and rank in (2, 3, 4, 5):
        scale, bias, mean, var = params
        n = max(rank - 2, 1)
        ctor = f"nn.BatchNorm{n}d({scale.size}{_kwargs(eps=eps_kw, dtype=_dtype_kw(scale))})"
        state = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                 "num_batches_tracked": np.array(0, dtype=np.int64)}
        w.assign(node.outputs[0], f"{w.submodule(node, ctor, state)}({w.ref(x)})")
        return
    scale, bias, mean, var = (w.ref(v) for v in node.inputs[1:5])
    w.assign(node.outputs[0], f"F.batch_norm({w.ref(x)}, {mean}, {var}, {scale}, {bias}, "
                              f"False, 0.0, {_num(eps)})")


@emitter("InstanceNormalization")
def _instancenorm(w: _Writer, node: Node):
    x, sv, bv = node.inputs[0], node.inputs[1], node.inputs[2]
    scale, bias = w.array(sv), w.array(bv)
    eps = float(attr(node, "epsilon"))
    rank = w.rank(x)
    if scale is not None and bias is not None and rank in (3, 4, 5):
        ctor = (f"nn.InstanceNorm{rank - 2}d({scale.size}, "
                f"eps={_num(eps)}, affine=True{_kwargs(dtype=_dtype_kw(scale))})")
        state = {"weight": scale.reshape(-1), "bias": bias.reshape(-1)}
        w.assign(node.outputs[0], f"{w.submodule(node, ctor, state)}({w.ref(x)})")
        return
    w.assign(node.outputs[0], f"F.instance_norm({w.ref(x)}, weight={w.ref(sv)}, "
                              f"bias={w.ref(bv)}, eps={_num(eps)})")


@emitter("LayerNormalization")
def _layernorm(w: _Writer, node: Node):
    if any(v.consumers or v in w.graph.outputs for v in node.outputs[1:]):
        raise w.unsupported("the Mean and InvStdDev outputs are not generated")
    x, sv, bv = node.inputs[0], node.inputs[1], _optional(node, 2)
    scale, bias = w.array(sv), w.array(bv)
    eps = float(attr(node, "epsilon"))
    rank = w.rank(x)
    axis = int(attr(node, "axis"))
    axis = _norm_axis(w, axis, rank)
    shape = w.shape(x)
    normalized = None
    if shape is not None and all(isinstance(d, int) for d in shape[axis:]):
        normalized = list(shape[axis:])
    elif scale is not None and rank is not None and scale.ndim == rank - axis:
        normalized = list(scale.shape)
    if normalized is not None and scale is not None and list(scale.shape) == normalized and \
            (bv is None or (bias is not None and list(bias.shape) == normalized)):
        shape_arg = _num(normalized[0]) if len(normalized) == 1 else _tuple(normalized)
        ctor = (f"nn.LayerNorm({shape_arg}"
                + _kwargs(eps=None if _num(eps) == "1e-05" else _num(eps),
                          bias="False" if bv is None else None, dtype=_dtype_kw(scale)) + ")")
        state = {"weight": scale} if bv is None else {"weight": scale, "bias": bias}
        w.assign(node.outputs[0], f"{w.submodule(node, ctor, state)}({w.ref(x)})")
        return
    src = w.ref(x)
    dims = _tuple(normalized) if normalized is not None else f"{src}.shape[{axis}:]"
    b = "None" if bv is None else w.ref(bv)
    w.assign(node.outputs[0], f"F.layer_norm({src}, {dims}, {w.ref(sv)}, {b}, {_num(eps)})")


# -- activations ------------------------------------------------------------------------------
# ops with no shared function (the ONNX ops are written from theirs, inlined where the function
# is one expression: see _Writer.inline_shared)
_UNARY = {"Silu": "F.silu"}


@emitter(*_UNARY)
def _unary(w: _Writer, node: Node):
    w.assign(node.outputs[0], f"{_UNARY[node.op]}({w.ref(node.inputs[0])})")


@emitter("PRelu")
def _prelu(w: _Writer, node: Node):
    x, sv = node.inputs
    slope, rank = w.array(sv), w.rank(x)
    if slope is not None and rank is not None and rank >= 2 and slope.dtype.kind == "f" and \
            slope.ndim <= rank:
        # nn.PReLU holds one slope for all, or one per channel (dim 1)
        aligned = (1,) * (rank - slope.ndim) + slope.shape
        if slope.size == 1 or (aligned[0] == 1 and all(d == 1 for d in aligned[2:])):
            ctor = f"nn.PReLU({slope.size}{_kwargs(dtype=_dtype_kw(slope))})"
            state = {"weight": slope.reshape(-1)}
            w.assign(node.outputs[0], f"{w.submodule(node, ctor, state)}({w.ref(x)})")
            return
    src = w.ref(x)
    w.assign(node.outputs[0], f"torch.where({src} >= 0, {src}, {src} * {w.ref(sv)})")


@emitter("Clip")
def _clip(w: _Writer, node: Node):
    x = node.inputs[0]

    def bound(i, name):
        v = _optional(node, i)
        if v is None:
            value = node.attrs.get(name)
            return None if value is None else _num(float(value))
        return w.scalar(v) or w.ref(v)

    lo, hi = bound(1, "min"), bound(2, "max")
    src = w.ref(x)
    if lo == "0.0" and hi == "6.0":
        w.assign(node.outputs[0], f"F.relu6({src})")
    else:
        w.assign(node.outputs[0], f"torch.clamp({src}{_kwargs(min=lo, max=hi)})")


# -- elementwise ------------------------------------------------------------------------------
_OPERATORS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Equal": "==", "Greater": ">",
              "Less": "<", "GreaterOrEqual": ">=", "LessOrEqual": "<="}
_FUNCTIONS = {"Pow": "torch.pow", "And": "torch.logical_and", "Or": "torch.logical_or",
              "Xor": "torch.logical_xor"}


def _operands(w: _Writer, node: Node) -> tuple[str, str]:
    """Both operands; a one-element constant beside a tensor of at least its rank is written
    as a number (same broadcast result, and torch keeps the tensor's dtype)."""
    a, b = node.inputs[0], node.inputs[1]
    ra, rb = w.rank(a), w.rank(b)
    sb = w.scalar(b)
    if sb is not None and w.array(a) is None and ra is not None and rb is not None and ra >= rb:
        return w.ref(a), sb
    sa = w.scalar(a)
    if sa is not None and w.array(b) is None and ra is not None and rb is not None and rb >= ra:
        return sa, w.ref(b)
    return w.ref(a), w.ref(b)


@emitter(*_OPERATORS, *_FUNCTIONS)
def _binary(w: _Writer, node: Node):
    types = [w.dtype(v) for v in node.inputs[:2]]
    if any(t in ("uint16", "uint32", "uint64") for t in types) or \
            (node.op == "Pow" and types[0] != types[1]):
        # torch lacks these operators: the shared function computes wide and casts back
        raise w.unsupported(f"operands of types {types[0]} and {types[1]}")
    a, b = _operands(w, node)
    if node.op == "Div" and (w.dtype(node.inputs[0]) or "float").startswith(("int", "uint")):
        w.assign(node.outputs[0], f'torch.div({a}, {b}, rounding_mode="trunc")')
    elif node.op in _OPERATORS:
        w.assign(node.outputs[0], f"{a} {_OPERATORS[node.op]} {b}")
    else:
        w.assign(node.outputs[0], f"{_FUNCTIONS[node.op]}({a}, {b})")


@emitter("Max", "Min", "Sum", "Mean")
def _variadic(w: _Writer, node: Node):
    terms = [w.ref(v) for v in node.inputs if v is not None]
    if node.op in ("Sum", "Mean"):
        expr = " + ".join(terms)
        if node.op == "Mean" and len(terms) > 1:
            expr = f"({expr}) / {len(terms)}"
    else:
        fn = "torch.maximum" if node.op == "Max" else "torch.minimum"
        expr = terms[0]
        for t in terms[1:]:
            expr = f"{fn}({expr}, {t})"
    w.assign(node.outputs[0], expr)


@emitter("Dropout", "Identity")
def _identity(w: _Writer, node: Node):
    if len(node.outputs) > 1 and (node.outputs[1].consumers or node.outputs[1] in w.graph.outputs):
        raise w.unsupported("the mask output is not generated")
    w.alias(node.outputs[0], node.inputs[0])


@emitter("Cast")
def _cast(w: _Writer, node: Node):
    to = attr(node, "to")
    dtype = ONNX_DTYPES.get(to, to) if not isinstance(to, str) else to
    if dtype not in set(ONNX_DTYPES.values()) - {"string"}:
        raise w.unsupported(f"cast to {dtype!r}")
    w.assign(node.outputs[0], f"{w.ref(node.inputs[0])}.to({_torch_dtype(dtype)})")


@emitter("Constant")
def _constant(w: _Writer, node: Node):
    value = node.attrs.get("value")
    if value is None:
        raise w.unsupported("only the 'value' attribute is generated")
    # a tensor attribute, declared only if some kept statement reads it
    w.tensor_ref(node.outputs[0].name, np.asarray(value), base=node.name)


# -- shape and tensor manipulation --------------------------------------------------------------
@emitter("Concat")
def _concat(w: _Writer, node: Node):
    parts = ", ".join(w.ref(v) for v in node.inputs if v is not None)
    w.assign(node.outputs[0], f"torch.cat([{parts}], dim={int(attr(node, 'axis'))})")


@emitter("Split")
def _split(w: _Writer, node: Node):
    x = node.inputs[0]
    axis = int(attr(node, "axis"))
    sizes = node.attrs.get("split")
    if sizes is None and _optional(node, 1) is not None:
        sizes = w.ints(node.inputs[1])
        if sizes is None:
            raise w.unsupported("split sizes that are only known at run time")
    src = w.ref(x)
    k = len(node.outputs)
    if sizes is None:
        shape = w.shape(x)
        dim = None if shape is None else shape[_norm_axis(w, axis, len(shape))]
        if not isinstance(dim, int):
            w.assign_all(node.outputs, f"torch.chunk({src}, {k}, dim={axis})")
            return
        chunk = -(-dim // k)
        sizes = [min(chunk, dim - i * chunk) for i in range(k)]
    w.assign_all(node.outputs, f"torch.split({src}, {list(int(s) for s in sizes)}, dim={axis})")


@emitter("torch.unbind")
def _unbind(w: _Writer, node: Node):
    dim = int(node.attrs.get("dim", 0))
    w.assign_all(node.outputs, f"torch.unbind({w.ref(node.inputs[0])}, dim={dim})")


def _resolve_dims(w: _Writer, x: Value, target: list, copy_zeros: bool) -> list | None:
    """Target dims as ints or _Code: zeros copy the input's dim (ONNX Reshape), one unknown
    entry becomes -1, other symbols are read from the input's or the graph inputs' shapes.
    None when some entry cannot be written down."""
    shape = list(w.shape(x) or ())
    src = w.ref(x)
    items: list = []
    for i, d in enumerate(target):
        if copy_zeros and d == 0:
            d = shape[i] if i < len(shape) and isinstance(shape[i], int) else \
                _Code(f"{src}.shape[{i}]")
        items.append(d)
    unknown = [i for i, d in enumerate(items) if not isinstance(d, (int, _Code))]
    if len(unknown) == 1 and -1 not in items:
        items[unknown[0]] = -1
        return items
    for i in unknown:
        sym = items[i]
        if sym is not None and sym in shape:
            items[i] = _Code(f"{src}.shape[{shape.index(sym)}]")
        elif sym is not None and sym in w.symbols:
            items[i] = _Code(w.symbols[sym])  # a graph input: always defined
        else:
            return None
    return items


@emitter("Reshape")
def _reshape(w: _Writer, node: Node):
    x, sv = node.inputs[0], _optional(node, 1)
    target = node.attrs.get("shape") or w.dims(sv)
    allowzero = bool(attr(node, "allowzero"))
    items = None if target is None else _resolve_dims(w, x, list(target), not allowzero)
    src = w.ref(x)
    if items is not None:
        w.assign(node.outputs[0], f"{src}.reshape({_dims(items)})")
        return
    # the target is only known at run time
    s = w.ref(sv)
    if allowzero:
        w.assign(node.outputs[0], f"{src}.reshape({s}.tolist())")
    else:
        w.assign(node.outputs[0], f"{src}.reshape([{src}.shape[i] if d == 0 else d "
                                  f"for i, d in enumerate({s}.tolist())])")


@emitter("Flatten")
def _flatten(w: _Writer, node: Node):
    x = node.inputs[0]
    rank = w.rank(x)
    axis = _norm_axis(w, int(attr(node, "axis")), rank)
    src = w.ref(x)
    if axis == 0:
        expr = f"{src}.reshape(1, -1)"
    elif rank is not None and axis == rank:
        expr = f"{src}.reshape(-1, 1)"
    elif axis == 1:
        expr = f"torch.flatten({src}, 1)"
    else:  # ONNX Flatten is always 2-D: dims before axis, dims from axis
        expr = f"torch.flatten(torch.flatten({src}, {axis}), 0, {axis - 1})"
    w.assign(node.outputs[0], expr)


@emitter("Transpose")
def _transpose(w: _Writer, node: Node):
    x = node.inputs[0]
    perm = attr(node, "perm")
    rank = w.rank(x)
    src = w.ref(x)
    if perm is None:
        if rank is None:
            w.assign(node.outputs[0], f"{src}.permute(*reversed(range({src}.dim())))")
            return
        perm = list(range(rank))[::-1]
    perm = [int(p) for p in perm]
    moved = [i for i, p in enumerate(perm) if p != i]
    if not moved:
        w.alias(node.outputs[0], x)
    elif len(moved) == 2:
        w.assign(node.outputs[0], f"{src}.transpose({moved[0]}, {moved[1]})")
    else:
        w.assign(node.outputs[0], f"{src}.permute({_dims(perm)})")


def _axes(w: _Writer, node: Node, index: int) -> list[int] | None:
    """An axes list from the attribute (old opsets) or the constant input."""
    if node.attrs.get("axes") is not None:
        return [int(a) for a in node.attrs["axes"]]
    v = _optional(node, index)
    if v is None:
        return None
    axes = w.ints(v)
    if axes is None:
        raise w.unsupported("axes that are only known at run time")
    return axes


@emitter("Squeeze")
def _squeeze(w: _Writer, node: Node):
    axes = _axes(w, node, 1)
    src = w.ref(node.inputs[0])
    if not axes:
        w.assign(node.outputs[0], f"{src}.squeeze()")
    elif len(axes) == 1:
        w.assign(node.outputs[0], f"{src}.squeeze({axes[0]})")
    else:
        w.assign(node.outputs[0], f"{src}.squeeze({_tuple(axes)})")


@emitter("Unsqueeze")
def _unsqueeze(w: _Writer, node: Node):
    axes = _axes(w, node, 1) or []
    rank = w.rank(node.inputs[0])
    if any(a < 0 for a in axes):
        if rank is None:
            raise w.unsupported("negative axes on an input of unknown rank")
        axes = [a + rank + len(axes) if a < 0 else a for a in axes]
    expr = w.ref(node.inputs[0])
    for a in sorted(axes):
        expr += f".unsqueeze({a})"
    w.assign(node.outputs[0], expr)


@emitter("Slice")
def _slice(w: _Writer, node: Node):
    x = node.inputs[0]
    starts = node.attrs.get("starts") or w.ints(_optional(node, 1))
    ends = node.attrs.get("ends") or w.ints(_optional(node, 2))
    if starts is None or ends is None:
        raise w.unsupported("starts and ends that are only known at run time")
    starts, ends = [int(v) for v in starts], [int(v) for v in ends]
    axes = _axes(w, node, 3) or list(range(len(starts)))
    steps = w.ints(_optional(node, 4)) if _optional(node, 4) is not None else [1] * len(starts)
    if steps is None:
        raise w.unsupported("steps that are only known at run time")
    shape, rank = w.shape(x), w.rank(x)
    items: dict[int, str] = {}
    flips: list[int] = []
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _norm_axis(w, int(a), rank)
        size = shape[a] if shape is not None and a < len(shape) else None
        if st < 0:  # torch slices go forwards only: flip the axis, then slice the mirror
            if not isinstance(size, int):
                raise w.unsupported("a negative step on a dim of unknown size")
            idx = range(*slice(s, e, st).indices(size))
            flips.append(a)
            s, e, st = (size - 1 - idx[0], size - 1 - idx[-1] + 1, -st) if len(idx) else (0, 0, 1)
        end_open = e >= _BIG or (isinstance(size, int) and e >= size)
        text = f"{s if s else ''}:{'' if end_open else e}"
        items[a] = text + (f":{st}" if st != 1 else "")
    src = w.ref(x)
    if flips:
        src = f"{src}.flip({_tuple(sorted(flips))})"
    last = max(items) if items else -1
    subscript = ", ".join(items.get(i, ":") for i in range(last + 1))
    w.assign(node.outputs[0], f"{src}[{subscript}]" if items else src)


@emitter("Pad")
def _pad(w: _Writer, node: Node):
    x = node.inputs[0]
    pads = node.attrs.get("pads") or w.ints(_optional(node, 1))
    if pads is None:
        raise w.unsupported("pads that are only known at run time")
    rank = w.rank(x)
    axes_in = _optional(node, 3)
    if axes_in is not None:  # opset 18: pads for the listed axes only
        axes = w.ints(axes_in)
        if axes is None or rank is None:
            raise w.unsupported("axes that are only known at run time")
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            a = a + rank if a < 0 else a
            full[a], full[a + rank] = pads[i], pads[i + len(axes)]
        pads = full
    n = len(pads) // 2
    value_in = _optional(node, 2)
    value = _num(float(node.attrs.get("value") or 0.0))
    if value_in is not None:
        value = w.scalar(value_in)
        if value is None:
            raise w.unsupported("a pad value that is only known at run time")
    mode = attr(node, "mode")
    torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(mode)
    if torch_mode is None:
        raise w.unsupported(f"mode '{mode}'")
    src = w.ref(x)
    if torch_mode == "constant":
        kw = None if value in ("0.0", "0") else value
        w.assign(node.outputs[0], f"F.pad({src}, {_torch_pads(pads, n)}{_kwargs(value=kw)})")
        return
    if any(pads[:2]) or any(pads[n:n + 2]):
        raise w.unsupported(f"mode '{mode}' padding the batch or channel dim")
    w.assign(node.outputs[0], f'F.pad({src}, {_torch_pads(pads, n)}, mode="{torch_mode}")')


@emitter("Resize", "Upsample")
def _resize(w: _Writer, node: Node):
    x = node.inputs[0]
    rank = w.rank(x)
    sizes = w.ints(_optional(node, 3)) if node.op == "Resize" else None
    if sizes:
        size_kw = f"size={_tuple(sizes[2:])}"
    else:
        scales = node.attrs.get("scales") or w.floats(
            _optional(node, 2) if node.op == "Resize" else _optional(node, 1))
        if not scales:
            raise w.unsupported("scales or sizes that are only known at run time")
        if any(float(s) != 1.0 for s in scales[:2]):
            raise w.unsupported("scaling the batch or channel dim")
        size_kw = f"scale_factor={_tuple(float(s) for s in scales[2:])}"
    mode = attr(node, "mode")
    src = w.ref(x)
    if mode == "nearest":
        w.assign(node.outputs[0], f'F.interpolate({src}, {size_kw}, mode="nearest")')
        return
    names = {"linear": {3: "linear", 4: "bilinear", 5: "trilinear"}, "cubic": {4: "bicubic"}}
    torch_mode = names.get(mode, {}).get(rank)
    if torch_mode is None:
        raise w.unsupported(f"mode '{mode}' on a rank-{rank} input")
    ctm = node.attrs.get("coordinate_transformation_mode", "half_pixel")
    w.assign(node.outputs[0], f'F.interpolate({src}, {size_kw}, mode="{torch_mode}", '
                              f'align_corners={ctm == "align_corners"})')


@emitter("Shape")
def _shape(w: _Writer, node: Node):
    start, end = int(attr(node, "start") or 0), attr(node, "end")
    end = None if end is None else int(end)
    src = w.ref(node.inputs[0])
    part = "" if not start and end is None else f"[{start or ''}:{'' if end is None else end}]"
    rank = w.rank(node.inputs[0])
    # torch.tensor([]) would be float32: the type is spelled out unless dims are sure to exist
    kw = "" if rank is not None and list(range(rank))[start:end] else ", dtype=torch.int64"
    w.assign(node.outputs[0], f"torch.tensor({src}.shape{part}{kw})")


@emitter("Gather")
def _gather(w: _Writer, node: Node):
    x, iv = node.inputs
    data, idx = w.array(x), w.ints(iv)
    axis = int(attr(node, "axis"))
    if data is not None and data.ndim == 2 and data.dtype.kind == "f" and axis == 0 and \
            idx is None:  # a lookup table: nn.Embedding
        src = w.ref(iv) + ("" if w.dtype(iv) in ("int64", "int32") else ".long()")
        w.assign(node.outputs[0], f"{_embedding_layer(w, node, data)}({src})")
        return
    axis = _norm_axis(w, axis, w.rank(x))
    src = w.ref(x)
    if idx is not None and w.rank(iv) == 0:
        item = str(idx[0])
    elif idx is not None and w.rank(iv) == 1:
        item = str(idx)
    else:  # advanced indexing with a tensor puts the index's dims at ``axis``, as Gather does
        item = w.ref(iv) + ("" if w.dtype(iv) == "int64" else ".long()")
    w.assign(node.outputs[0], f"{src}{_index(axis, item)}")


# reductions: op -> (function, how the input is prepared)
_REDUCE = {"ReduceMean": ("torch.mean", "{}"), "ReduceSum": ("torch.sum", "{}"),
           "ReduceMax": ("torch.amax", "{}"), "ReduceMin": ("torch.amin", "{}"),
           "ReduceSumSquare": ("torch.sum", "torch.square({})"),
           "ReduceL1": ("torch.sum", "torch.abs({})"),
           "ReduceL2": ("torch.linalg.vector_norm", "{}"),
           "ReduceLogSumExp": ("torch.logsumexp", "{}"), "ReduceProd": ("torch.prod", "{}")}


@emitter(*_REDUCE)
def _reduce(w: _Writer, node: Node):
    x = node.inputs[0]
    axes = _axes(w, node, 1)
    keep = bool(attr(node, "keepdims"))
    fn, prepare = _REDUCE[node.op]
    src = w.ref(x)
    if not axes:
        rank = w.rank(x)
        dims = _tuple(range(rank)) if rank is not None else f"tuple(range({src}.dim()))"
    else:
        dims = str(axes[0]) if len(axes) == 1 else _tuple(axes)
    if node.op == "ReduceProd" and (not axes or len(axes) != 1):
        raise w.unsupported("a product over several axes")
    w.assign(node.outputs[0], f"{fn}({prepare.format(src)}, dim={dims}"
                              f"{', keepdim=True' if keep else ''})")


@emitter("TopK")
def _topk(w: _Writer, node: Node):
    x, kv = node.inputs[0], node.inputs[1]
    k = w.ints(kv)
    largest = "" if attr(node, "largest") else ", largest=False"
    w.assign_all(node.outputs, f"torch.topk({w.ref(x)}, {k[0] if k else w.ref(kv)}, "
                               f"dim={int(attr(node, 'axis'))}{largest})")


@emitter("ArgMax", "ArgMin")
def _argmax(w: _Writer, node: Node):
    fn = "torch.argmax" if node.op == "ArgMax" else "torch.argmin"
    keep = ", keepdim=True" if attr(node, "keepdims") else ""
    w.assign(node.outputs[0], f"{fn}({w.ref(node.inputs[0])}, dim={int(attr(node, 'axis'))}{keep})")


@emitter("Expand")
def _expand(w: _Writer, node: Node):
    x, sv = node.inputs
    out_shape = w.static(node.outputs[0])
    src = w.ref(x)
    if out_shape is not None:  # the broadcast result is known: a plain expand
        w.assign(node.outputs[0], f"{src}.expand({_dims(out_shape)})")
        return
    dims = w.ints(sv)
    shape = _tuple(dims) if dims is not None else f"{w.ref(sv)}.tolist()"
    # ONNX Expand broadcasts both ways (a 1 in the shape keeps the input's dim)
    w.assign(node.outputs[0], f"{src} * torch.ones({shape}, dtype={src}.dtype, "
                              f"device={src}.device)")


@emitter("Tile")
def _tile(w: _Writer, node: Node):
    x, rv = node.inputs
    reps = w.ints(rv)
    src = w.ref(x)
    w.assign(node.outputs[0], f"{src}.repeat({_dims(reps)})" if reps is not None
             else f"{src}.repeat({w.ref(rv)}.tolist())")


# -- recurrent layers -------------------------------------------------------------------------
# gate blocks of ONNX's W, R and B in the order torch's modules keep them: LSTM iofc -> ifgo
# (torch's g is ONNX's c), GRU zrh -> rzn, RNN one block
_TORCH_GATE_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}
_DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"],
                        "RNN": ["tanh"]}


def _torch_rnn_nonlinearity(w: _Writer, node: Node, dirs: int) -> str:
    """The activation nn.RNN is built with ('tanh' or 'relu'); raises unless the node's
    activations are the ones nn.LSTM / nn.GRU / nn.RNN compute."""
    defaults = _DEFAULT_ACTIVATIONS[node.op]
    names = [str(a).lower() for a in node.attrs.get("activations") or defaults * dirs]
    if len(names) == len(defaults) and dirs == 2:
        names *= 2
    if node.op == "RNN" and len(set(names)) == 1 and names[0] in ("tanh", "relu"):
        return names[0]
    if names != defaults * dirs:
        raise w.unsupported(f"activations {list(node.attrs['activations'])} are not generated "
                            f"(nn.{node.op} computes {defaults})")
    return "tanh"


def _check_torch_rnn(w: _Writer, node: Node) -> None:
    """Raise for what nn.LSTM / nn.GRU / nn.RNN cannot express."""
    if _optional(node, 4) is not None:
        raise w.unsupported("sequence_lens is not generated (nn modules run every step)")
    if node.attrs.get("clip") is not None:
        raise w.unsupported("clip is not generated (nn modules do not clip gates)")
    if node.op == "LSTM":
        if node.attrs.get("input_forget"):
            raise w.unsupported("input_forget is not generated (nn.LSTM has no coupled gates)")
        p = _optional(node, 7)
        if p is not None and (w.array(p) is None or np.any(w.array(p))):
            raise w.unsupported("peephole weights (P) are not generated (nn.LSTM has none)")
    if node.op == "GRU" and not node.attrs.get("linear_before_reset"):
        raise w.unsupported("linear_before_reset=0 is not generated (nn.GRU applies the reset "
                            "gate after the recurrent linear map)")


def _torch_gates(array: np.ndarray, op: str) -> np.ndarray:
    """ONNX gate blocks (along axis 0) in torch's order."""
    blocks = np.split(array, len(_TORCH_GATE_ORDER[op]), axis=0)
    return np.ascontiguousarray(np.concatenate([blocks[i] for i in _TORCH_GATE_ORDER[op]]))


def _torch_rnn_state(op: str, weight, recurrence, bias) -> dict[str, np.ndarray]:
    """nn.LSTM / nn.GRU / nn.RNN parameters from ONNX's W, R and B (B = [Wb, Rb])."""
    state = {}
    for d in range(weight.shape[0]):
        suffix = "_reverse" if d == 1 else ""
        state[f"weight_ih_l0{suffix}"] = _torch_gates(weight[d], op)
        state[f"weight_hh_l0{suffix}"] = _torch_gates(recurrence[d], op)
        if bias is not None:
            wb, rb = np.split(bias[d], 2)
            state[f"bias_ih_l0{suffix}"] = _torch_gates(wb, op)
            state[f"bias_hh_l0{suffix}"] = _torch_gates(rb, op)
    return state


def _initial_state(w: _Writer, node: Node, batch_first: bool) -> str:
    """The ``, hx`` argument: ONNX's initial_h (and initial_c) as torch wants them,
    [directions, batch, hidden] whatever the layout; '' when there are none."""
    h, c = (None if _optional(node, i) is None else
            w.ref(node.inputs[i]) + (".transpose(0, 1)" if batch_first else "") for i in (5, 6))
    if node.op != "LSTM":
        return "" if h is None else f", {h}"
    if h is None and c is None:
        return ""
    h = h or f"torch.zeros_like({c})"
    return f", ({h}, {c or f'torch.zeros_like({h})'})"


def _torch_rnn_layer(w: _Writer, node: Node) -> tuple[str, int, int]:
    """Declare the nn.LSTM / nn.GRU / nn.RNN computing ``node``; returns (``self.<name>``,
    directions, hidden size)."""
    _check_torch_rnn(w, node)
    weight, recurrence = w.array(node.inputs[1]), w.array(node.inputs[2])
    bv = _optional(node, 3)
    bias = w.array(bv)
    if weight is None or recurrence is None or (bv is not None and bias is None):
        raise w.unsupported("weights that are only known at run time")
    dirs, hidden = weight.shape[0], weight.shape[1] // len(_TORCH_GATE_ORDER[node.op])
    nonlinearity = _torch_rnn_nonlinearity(w, node, dirs)
    ctor = (f"nn.{node.op}({weight.shape[2]}, {hidden}"
            + _kwargs(nonlinearity='"relu"' if nonlinearity == "relu" else None,
                      bias="False" if bv is None else None,
                      batch_first="True" if attr(node, "layout") else None,
                      bidirectional="True" if dirs == 2 else None, dtype=_dtype_kw(weight))
            + ")")
    state = _torch_rnn_state(node.op, weight, recurrence, bias)
    return w.submodule(node, ctor, state), dirs, hidden


@emitter("LSTM", "GRU", "RNN")
def _recurrent(w: _Writer, node: Node):
    layer, dirs, hidden = _torch_rnn_layer(w, node)
    name = layer[len("self."):]
    batch_first = bool(attr(node, "layout"))
    # direction "reverse": run forwards over the flipped sequence, flip the outputs back
    flip = "" if attr(node, "direction") != "reverse" else \
        ".flip(1)" if batch_first else ".flip(0)"
    call = f"{layer}({w.ref(node.inputs[0])}{flip}{_initial_state(w, node, batch_first)})"
    used = [v if v.name and (v.consumers or v in w.graph.outputs) else None
            for v in node.outputs]
    count = 2 if node.op == "LSTM" else 1  # final states: h (and c)
    states = (used[1:] + [None] * count)[:count]
    y = None if used[0] is None else w.out(used[0])
    seq = w.temp(f"{name}_seq")
    # torch's final states are [directions, batch, hidden] whatever the layout
    finals = [w.temp(f"{name}_{k}n") if v is None or batch_first else w.out(v, f"{name}_{k}")
              for v, k in zip(states, "hc")]
    target = finals[0] if count == 1 else f"({finals[0]}, {finals[1]})"
    w.line(f"{seq}, {target} = {call}")
    if y is not None:  # [seq, batch, dirs * hidden] -> ONNX's [seq, dirs, batch, hidden]
        w.line(f"{y} = {seq}{flip}.unflatten(2, ({dirs}, {hidden}))"
               + ("" if batch_first else ".transpose(1, 2)"))
    if batch_first:
        for v, final, k in zip(states, finals, "hc"):
            if v is not None:
                w.line(f"{w.out(v, f'{name}_{k}')} = {final}.transpose(0, 1)")


# -- control flow -----------------------------------------------------------------------------
@emitter(*CONTROL_FLOW)
def _control_flow(w: _Writer, node: Node):
    """Each subgraph as a nested function, passed to the op's shared function:
    ``y, *_ = onnx_loop(n, None, h0, body=loop_body)``."""
    if node.op == "Scan" and node.inputs and node.inputs[0] is None:
        raise w.unsupported("the opset-8 form (batched, sequence_lens) is not generated")
    bodies = {key: w.subgraph_function(node, key) for key in sorted(node.subgraphs)}
    w.call_shared(node, _shared_ops()[node.op], bodies)


# -- attention --------------------------------------------------------------------------------
@emitter("Attention")
def _attention(w: _Writer, node: Node):
    if len(node.outputs) > 1 and any(v.consumers or v in w.graph.outputs
                                     for v in node.outputs[1:]):
        raise w.unsupported("the present key/value outputs are not generated")
    q, k, v = (w.ref(i) for i in node.inputs[:3])
    mask = _optional(node, 3)
    scale = node.attrs.get("scale")
    args = _kwargs(attn_mask=None if mask is None else w.ref(mask),
                   is_causal="True" if attr(node, "is_causal") else None,
                   scale=None if scale is None else _num(scale))
    w.assign(node.outputs[0], f"F.scaled_dot_product_attention({q}, {k}, {v}{args})")


def supported_ops() -> list[str]:
    """The ops this generator writes source for."""
    return sorted(EMITTERS)
