"""A TensorFlow GraphDef (frozen .pb / .pbtxt, a SavedModel's, or one traced from Keras) into
the IR. TF ops become canonical ops with the layout recorded (``data_format``: NHWC); filters
are shown in ONNX's [Cout, Cin/group, kh, kw] order (a lazy transposed view), so the Conv cost
rule holds. Const nodes become weights, Identity nodes are folded away, name scopes become
namespaces. Reading needs protobuf only, not TensorFlow.
"""
from __future__ import annotations

import numpy as np

import re

from ...errors import ParseError
from ...ir import Graph, TensorType, WeightData
from .protos import DTYPES, messages

SKIP_OPS = {"NoOp", "Assert", "SaveV2", "RestoreV2", "VarHandleOp", "AssignVariableOp"}
ALIAS_OPS = {"Identity", "StopGradient", "Snapshot", "PreventGradient", "ReadVariableOp",
             "PlaceholderWithDefault", "EnsureShape", "CheckNumerics"}
SIMPLE = {"Relu": "Relu", "Elu": "Elu", "Selu": "Selu", "Sigmoid": "Sigmoid", "Tanh": "Tanh",
          "Softplus": "Softplus", "Softsign": "Softsign", "Exp": "Exp", "Log": "Log",
          "Sqrt": "Sqrt", "Neg": "Neg", "Abs": "Abs", "Floor": "Floor", "Ceil": "Ceil",
          "Reciprocal": "Reciprocal", "Erf": "Erf", "Sign": "Sign", "Round": "Round",
          "Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div",
          "Div": "Div", "Maximum": "Max", "Minimum": "Min", "Pow": "Pow", "AddN": "Sum",
          "Equal": "Equal", "Greater": "Greater", "Less": "Less", "LogicalAnd": "And",
          "LogicalOr": "Or", "LogicalNot": "Not", "Shape": "Shape", "Size": "Size",
          "Reshape": "Reshape", "Tile": "Tile", "Select": "Where", "SelectV2": "Where",
          "ResourceGather": "Gather", "Rsqrt": "tf.Rsqrt", "Erfc": "tf.Erfc",
          "Square": "tf.Square", "SquaredDifference": "tf.SquaredDifference",
          "GreaterEqual": "GreaterOrEqual", "LessEqual": "LessOrEqual", "NotEqual": "tf.NotEqual",
          "FloorDiv": "tf.FloorDiv", "FloorMod": "Mod", "Sin": "Sin", "Cos": "Cos",
          "Log1p": "tf.Log1p", "Expm1": "tf.Expm1", "IsNan": "IsNaN", "ZerosLike": "tf.ZerosLike",
          "OnesLike": "tf.OnesLike", "ClipByValue": "Clip", "Pack": "tf.Pack",
          "Unpack": "tf.Unpack", "StridedSlice": "tf.StridedSlice", "Slice": "tf.Slice",
          "Range": "tf.Range", "Rank": "tf.Rank", "SpaceToBatchND": "tf.SpaceToBatchND",
          "BatchToSpaceND": "tf.BatchToSpaceND", "Atan2": "tf.Atan2", "Tan": "tf.Tan"}
RESIZE = {"ResizeBilinear": "linear", "ResizeNearestNeighbor": "nearest",
          "ResizeBicubic": "cubic", "ResizeArea": "area"}
REDUCE = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin",
          "Prod": "ReduceProd"}
PADDING = {"SAME": "SAME_UPPER", "VALID": "VALID"}
INLINE_OPS = {"PartitionedCall", "StatefulPartitionedCall"}
MAX_INLINED = 2_000_000
FROZEN_VARIABLE = re.compile(r"(/resource|/\d+)$")  # names convert_variables_to_constants gives
GENERIC_CALL = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")
# ops with several output args: a function body names their outputs 'op:arg:i'
OUTPUT_ARGS = {"FusedBatchNorm": ["y", "batch_mean", "batch_variance", "reserve_space_1",
                                  "reserve_space_2", "reserve_space_3"],
               "Switch": ["output_false", "output_true"], "TopKV2": ["values", "indices"],
               "Unique": ["y", "idx"]}
for _v in ("FusedBatchNormV2", "FusedBatchNormV3"):
    OUTPUT_ARGS[_v] = OUTPUT_ARGS["FusedBatchNorm"]


def load_graphdef(gd, where: str | None = None, name: str = "graph",
                  counted_stats: bool = False, outputs: list[str] | None = None,
                  variables=None) -> Graph:
    """``counted_stats``: BN moving mean/variance count as parameters (Keras counts them).
    ``outputs``: output tensor names ('Identity:0'); by default the ops nothing reads.
    ``variables(name, dtype)``: reads a VarHandleOp's value (SavedModel), when asked for."""
    functions = {f.signature.name: f for f in gd.library.function}
    reader = _Reader(list(gd.node), where, counted_stats, functions, rets=outputs)
    reader.variables = variables
    if not reader.nodes:
        raise ParseError("GraphDef has no nodes (empty, truncated or not a TensorFlow graph)",
                         file=where)
    return reader.read(Graph(name))


def node_name(ref: str) -> tuple[str, int]:
    """'scope/op:1' -> ('scope/op', 1); in function bodies 'op:output_arg:1' -> ('op', 1).
    '^ctrl' control inputs are filtered out before."""
    parts = ref.split(":")
    if len(parts) > 1 and parts[-1].isdigit():
        return parts[0], int(parts[-1])
    return ref, 0


def value_name(node: str, port: int) -> str:
    return node if port == 0 else f"{node}:{port}"


def namespace_of(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def shape_of(shape_proto, batch_symbol: bool = True):
    if shape_proto.unknown_rank:
        return None
    dims = [d.size for d in shape_proto.dim]
    out = tuple(None if d < 0 else d for d in dims)
    if batch_symbol and dims and dims[0] < 0:
        out = ("N",) + out[1:]  # the leading unknown dim is the batch
    return out


def tensor_array(t) -> np.ndarray:
    """A TensorProto's contents as a numpy array."""
    dtype = DTYPES.get(t.dtype)
    shape = tuple(d.size for d in t.tensor_shape.dim)
    if dtype in (None, "string", "resource", "variant"):
        raise ParseError(f"tensor of type {dtype or t.dtype} has no numeric value")
    np_dtype = np.dtype(dtype if dtype != "bfloat16" else "uint16")
    n = int(np.prod(shape)) if shape else 1
    if t.tensor_content:
        return np.frombuffer(t.tensor_content, dtype=np_dtype).reshape(shape).copy()
    if dtype == "float16":
        vals = np.array(t.half_val, dtype=np.uint16).view(np.float16)
    else:
        field = {"float32": t.float_val, "float64": t.double_val, "int64": t.int64_val,
                 "bool": t.bool_val}.get(dtype, t.int_val)
        vals = np.array(list(field), dtype=np_dtype)
    if vals.size == n:
        return vals.reshape(shape)
    out = np.empty(n, dtype=np_dtype)  # TF repeats the last value to fill the tensor
    out[:vals.size] = vals
    out[vals.size:] = vals[-1] if vals.size else 0
    return out.reshape(shape)


def _attr(nd, key, default=None):
    if key not in nd.attr:
        return default
    a = nd.attr[key]
    kind = a.WhichOneof("value")
    if kind == "s":
        return a.s.decode("utf-8", "replace")
    if kind == "list":
        lst = a.list
        return list(lst.i) or list(lst.f) or [s.decode("utf-8", "replace") for s in lst.s] \
            or list(lst.type) or list(lst.shape)
    return getattr(a, kind) if kind else default


class _Reader:
    def __init__(self, nodes, where, counted_stats, functions, args=(), rets=None,
                 arg_types=()):
        self.nodes, self.where, self.counted_stats = nodes, where, counted_stats
        self.functions = functions
        self.args, self.rets = list(args), rets  # a function body's inputs and outputs
        self.arg_types = list(arg_types)          # and its inputs' types, from the caller
        self.ops = {nd.name: nd.op for nd in nodes}
        self.consts: dict[str, object] = {}   # Const node name -> TensorProto
        self.alias: dict[str, str] = {}        # folded value name -> its source value name
        self.specs: list[dict] = []
        self.variables = None  # reads a VarHandleOp's value (SavedModel), if given
        self.namespaces: dict[str, str] = {}  # inlined node -> its namespace
        self.var_reads: set[str] = set()      # Consts read as variables (frozen weights)
        self.stack: tuple = ()                # functions being expanded (no recursion)
        self.budget = [MAX_INLINED]           # nodes inlining may still add, shared

    def fail(self, msg, node=None):
        raise ParseError(msg, file=self.where, node=node)

    def resolve(self, ref: str) -> str:
        name, port = node_name(ref)
        return self._realias(value_name(name, port))

    def read(self, g: Graph) -> Graph:
        for nd in self.nodes:
            if not nd.name or not nd.op:
                self.fail("GraphDef node without a name or an op (not a TensorFlow graph?)")
        self.taken = {nd.name for nd in self.nodes}
        self.nodes = self.inline(self.nodes, self.stack)
        self.ops = {nd.name: nd.op for nd in self.nodes}
        self.vars: dict[str, tuple] = {}  # VarHandleOp name -> (dtype, shape)
        for nd in self.nodes:
            if nd.op == "Const":
                self.consts[nd.name] = nd.attr["value"].tensor
            elif nd.op == "VarHandleOp":  # a SavedModel read without TF: shapes, no values
                shp = shape_of(nd.attr["shape"].shape, batch_symbol=False)
                self.vars[nd.name] = (DTYPES.get(_attr(nd, "dtype"), "float32"), shp)
            elif nd.op in ALIAS_OPS and nd.input:
                self.alias[nd.name] = value_name(*node_name(nd.input[0].lstrip("^")))
                if nd.op == "ReadVariableOp" or nd.name.endswith(("ReadVariableOp", "/read")):
                    self.var_reads.add(node_name(nd.input[0].lstrip("^"))[0])
            elif nd.op == "IdentityN":  # custom-gradient wrappers (Keras swish): output k is
                data = [i for i in nd.input if not i.startswith("^")]  # input k
                for k, ref in enumerate(data):
                    self.alias[value_name(nd.name, k)] = value_name(*node_name(ref))
        if self.rets is not None:
            self.prune()
        self.ports: dict[str, int] = {}  # node -> highest output port read
        for ref in [i for nd in self.nodes for i in nd.input] + list(self.rets or []):
            name, port = node_name(ref.lstrip("^"))
            self.ports[name] = max(self.ports.get(name, 0), port)
        for k, arg in enumerate(self.args):
            g.add_input(arg, self.arg_types[k] if k < len(self.arg_types) else None)
        for nd in self.nodes:
            if nd.op == "Placeholder":
                dtype = DTYPES.get(_attr(nd, "dtype"))
                shp = nd.attr["shape"].shape if "shape" in nd.attr else None
                g.add_input(nd.name, TensorType(dtype, None if shp is None else shape_of(shp)))
            elif nd.op not in ("Const",) and nd.op not in SKIP_OPS and nd.name not in self.alias:
                try:
                    self.specs.append(self.translate(nd))
                except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
                    # a node whose attributes or constant inputs do not fit its op (a kernel
                    # of the wrong rank, an attribute of the wrong kind): the file's fault
                    self.fail(f"node '{nd.name}' ({nd.op}) does not fit its op "
                              f"({type(exc).__name__}: {str(exc)[:200]})")
        self.fold_bias()
        consumed: set[str] = set()
        for s in self.specs:
            for vname, data in s.pop("weight_views", {}).items():
                if vname not in g.values:
                    g.add_weight(vname, data)
            for i in s["inputs"]:
                if i is None:
                    continue
                consumed.add(i)
                base = node_name(i)[0]
                if base in self.consts and i not in g.values:
                    self.add_const(g, i, self.consts[base])
                    if self.folded_constant(base, i):
                        g.values[i].meta["constant"] = True
                elif base in self.vars and i not in g.values and self.vars[base][1] is not None:
                    dtype, shape = self.vars[base]
                    read = self.variables
                    g.add_weight(i, WeightData(shape, dtype, loader=None if read is None else (
                        lambda base=base, dtype=dtype, read=read: read(base, dtype))))
        for s in self.specs:
            ns = self.namespaces.get(s["name"], namespace_of(s["name"]))
            node = g.add_node(s["op"], s["inputs"], s["outputs"], s["attrs"], name=s["name"],
                              namespace=ns, source_op=s["source_op"])
            for v, t in zip(node.outputs, s["types"]):  # what the file says, checked against
                v.meta["tf_shape"] = t.shape            # our inference (cross_check), not used
            for v, t in zip(node.outputs, s.get("known", [])):
                v.type = t
            for key, fname in s.get("functions", {}).items():
                args = node.inputs[1:] if s["source_op"] in ("If", "StatelessIf") else node.inputs
                node.subgraphs[key] = self.function(fname, g, [v and v.type for v in args])
            if s["op"] == "BatchNormalization" and self.counted_stats:
                for v in node.inputs[3:5]:
                    if v is not None and v.data is not None:
                        v.meta["counted"] = True
        if self.rets is not None:
            for ref in self.rets:
                v = self.resolve(ref)
                base = node_name(v)[0]
                if base in self.consts and v not in g.values:
                    self.add_const(g, v, self.consts[base])
                g.add_output(v)
            return g
        for s in self.specs:  # ops that nothing reads are the outputs
            if not any(o in consumed for o in s["outputs"]):
                g.add_output(s["outputs"][0])
        return g

    def prune(self) -> None:
        """Keep the nodes the outputs depend on (drops a SavedModel's saver and the other
        signatures' nodes)."""
        by_name = {nd.name: nd for nd in self.nodes}
        todo = [node_name(self.resolve(r))[0] for r in self.rets]
        keep: set[str] = set()
        while todo:
            name = todo.pop()
            if name in keep or name not in by_name:
                continue
            keep.add(name)
            for i in by_name[name].input:
                if not i.startswith("^"):
                    todo.append(node_name(i)[0])
                    todo.append(node_name(self.resolve(i))[0])
        self.nodes = [nd for nd in self.nodes if nd.name in keep]

    # -- function calls inlined -----------------------------------------------------------------
    def inline(self, nodes: list, stack: tuple) -> list:
        """PartitionedCall / StatefulPartitionedCall nodes replaced by their function bodies,
        renamed under the call (its name scope where the call's own name is generic), so
        that every op of a SavedModel or an XLA-wrapped conv is a node of the graph."""
        out = []
        for nd in nodes:
            f = self.functions.get(nd.attr["f"].func.name) if nd.op in INLINE_OPS \
                and "f" in nd.attr else None
            if f is None or f.signature.name in stack:  # recursion stays a call node
                out.append(nd)
                continue
            base = self.namespaces.get(nd.name, namespace_of(nd.name))
            prefix = base if GENERIC_CALL.match(nd.name.rsplit("/", 1)[-1]) else nd.name
            body_names = {b.name for b in f.node_def}
            if any(_join(prefix, b) in self.taken for b in body_names):
                prefix = nd.name  # the scope already holds such names: keep the call's
            generic = GENERIC_CALL.match(nd.name.rsplit("/", 1)[-1])
            ns_base = base if generic else nd.name  # 'StatefulPartitionedCall' is no scope
            data = [i for i in nd.input if not i.startswith("^")]
            args = {a.name: ref for a, ref in zip(f.signature.input_arg, data)}
            ops = {b.name: b.op for b in f.node_def}
            NodeDef = messages()["NodeDef"]
            body = []
            for b in f.node_def:
                new = NodeDef()
                new.CopyFrom(b)
                new.name = _join(prefix, b.name)
                del new.input[:]
                new.input.extend(self.body_ref(i, args, prefix, ops) for i in b.input
                                 if not i.startswith("^"))
                self.taken.add(new.name)
                self.namespaces[new.name] = _join(ns_base, namespace_of(b.name))
                body.append(new)
            self.budget[0] -= len(body)
            if self.budget[0] < 0:
                self.fail(f"function calls expand to more than {MAX_INLINED:,} nodes",
                          node=nd.name)
            out.extend(self.inline(body, stack + (f.signature.name,)))
            for k, a in enumerate(f.signature.output_arg):
                if a.name in f.ret:
                    self.alias[value_name(nd.name, k)] = self.body_ref(f.ret[a.name], args,
                                                                       prefix, ops)
        return out

    def body_ref(self, ref: str, args: dict, prefix: str, ops: dict) -> str:
        """A function body's 'op:arg:i' / 'argname' reference in the caller's terms."""
        parts = ref.split(":")
        if len(parts) == 1:
            return args.get(ref, _join(prefix, ref))
        if not parts[-1].isdigit() or len(parts) > 3:
            self.fail(f"function {prefix.rstrip('/') or '?'}: the reference {ref[:80]!r} is not "
                      f"'node:output' or 'node:arg:index'")
        if len(parts) == 3:
            name, arg, i = parts
            names = OUTPUT_ARGS.get(ops.get(name, ""), [])
            port = (names.index(arg) if arg in names else 0) + int(i)
            return value_name(_join(prefix, name), port)
        return value_name(_join(prefix, parts[0]), int(parts[1]))

    def function(self, fname: str, parent: Graph, arg_types: list) -> Graph:
        """A FunctionDef (While body, If branch, called function) as a subgraph; its inputs
        take the types of the caller's inputs."""
        f = self.functions.get(fname)
        sub = Graph(fname, parent=parent)
        if f is None or fname in self.stack:  # a function that calls itself: not expanded
            return sub
        args = [a.name for a in f.signature.input_arg]
        rets = [f.ret[a.name] for a in f.signature.output_arg if a.name in f.ret]
        reader = _Reader(list(f.node_def), self.where, self.counted_stats, self.functions,
                         args, rets, arg_types)
        reader.stack, reader.budget = self.stack + (fname,), self.budget
        return reader.read(sub)

    def add_const(self, g: Graph, vname: str, t) -> None:
        if vname in g.values and g.values[vname].data is not None:
            return
        dtype = DTYPES.get(t.dtype, "float32")
        shape = tuple(d.size for d in t.tensor_shape.dim)
        g.add_weight(vname, WeightData(shape, dtype, loader=lambda t=t: tensor_array(t)))

    def folded_constant(self, base: str, vname: str) -> bool:
        """A Const that was a constant in the code (swish's beta, a preprocessing mean), not a
        frozen variable: nothing reads it as a variable and only element-wise math uses it.
        Such values are not parameters; filters and BN statistics stay parameters."""
        if base in self.var_reads or FROZEN_VARIABLE.search(base):
            return False
        from ...ir.ops import category
        if not hasattr(self, "users"):
            self.users: dict[str, list[str]] = {}
            for s in self.specs:
                for i in s["inputs"]:
                    self.users.setdefault(i, []).append(s["op"])
        users = self.users.get(vname, [])
        return all(category(op) in ("elementwise", "activation", "shape", "tensor", "reduce")
                   for op in users)

    def const_value(self, ref: str):
        base, _ = node_name(self.resolve(ref))
        t = self.consts.get(base)
        return None if t is None else tensor_array(t)

    # -- one TF node -> one spec --------------------------------------------------------------
    def translate(self, nd) -> dict:
        ins = [self.resolve(i) for i in nd.input if not i.startswith("^")]
        shapes = _attr(nd, "_output_shapes") or []
        dt = _attr(nd, "T") or _attr(nd, "dtype") or _attr(nd, "out_type") or 0
        dtypes = [DTYPES.get(d) for d in dt] if isinstance(dt, list) else [DTYPES.get(dt)]
        types = [TensorType(dtypes[min(k, len(dtypes) - 1)] if dtypes else None, shape_of(s))
                 for k, s in enumerate(shapes)]
        n_out = self.ports.get(nd.name, 0) + 1  # the outputs something reads
        spec = {"name": nd.name, "source_op": nd.op, "inputs": ins, "attrs": {}, "types": types,
                "outputs": [value_name(nd.name, k) for k in range(n_out)]}
        op = nd.op
        fmt = _attr(nd, "data_format", "NHWC")
        funcs = {k: nd.attr[k].func.name for k in ("body", "cond", "then_branch",
                                                     "else_branch", "f")
                 if k in nd.attr and nd.attr[k].func.name}
        if funcs:  # While / If / PartitionedCall: function bodies are subgraphs
            spec["op"], spec["functions"] = f"tf.{op}", funcs
            return spec
        if op == "Merge":  # lowered loops: drop the NextIteration back edge (a cycle)
            spec["inputs"] = [i for i in ins if self.ops.get(node_name(i)[0]) != "NextIteration"]
        if op in ("Conv2D", "Conv3D", "DepthwiseConv2dNative"):
            self.conv(nd, spec, fmt, depthwise=op.startswith("Depthwise"))
        elif op in ("MaxPool", "AvgPool", "MaxPool3D", "AvgPool3D"):
            spec["op"] = "MaxPool" if op.startswith("Max") else "AveragePool"
            spec["attrs"] = dict(kernel_shape=_spatial(_attr(nd, "ksize"), fmt),
                                 strides=_spatial(_attr(nd, "strides"), fmt),
                                 auto_pad=PADDING.get(_attr(nd, "padding"), "VALID"),
                                 data_format=fmt)
        elif op.startswith("FusedBatchNorm"):
            spec["op"] = "BatchNormalization"
            spec["attrs"] = dict(epsilon=float(_attr(nd, "epsilon", 1e-4)), data_format=fmt)
        elif op == "MatMul":
            spec["op"] = "MatMul"
            if _attr(nd, "transpose_a") or _attr(nd, "transpose_b"):
                spec["op"] = "Gemm"
                spec["attrs"] = dict(transA=int(bool(_attr(nd, "transpose_a"))),
                                     transB=int(bool(_attr(nd, "transpose_b"))))
        elif op == "BiasAdd":
            spec["op"] = "Add"
            spec["attrs"] = {"data_format": fmt}
        elif op == "Relu6":
            spec["op"], spec["attrs"] = "Clip", {"min": 0.0, "max": 6.0}
        elif op == "LeakyRelu":
            spec["op"], spec["attrs"] = "LeakyRelu", {"alpha": float(_attr(nd, "alpha", 0.2))}
        elif op in ("Softmax", "LogSoftmax"):
            spec["op"], spec["attrs"] = op, {"axis": -1}
        elif op == "ConcatV2":
            axis = self.const_value(ins[-1])
            spec["op"], spec["inputs"] = "Concat", ins[:-1]
            spec["attrs"] = {"axis": int(axis) if axis is not None else -1}
        elif op in REDUCE:
            spec["op"] = REDUCE[op]
            axes = self.const_value(ins[1]) if len(ins) > 1 else None
            spec["inputs"] = ins[:1]
            spec["attrs"] = {"keepdims": int(bool(_attr(nd, "keep_dims", False)))}
            if axes is not None:
                spec["attrs"]["axes"] = [int(a) for a in np.atleast_1d(axes)]
        elif op == "Squeeze":
            spec["op"], spec["attrs"] = "Squeeze", {"axes": list(_attr(nd, "squeeze_dims") or [])}
        elif op == "ExpandDims":
            axis = self.const_value(ins[1])
            spec["op"], spec["inputs"] = "Unsqueeze", ins[:1]
            spec["attrs"] = {} if axis is None else {"axes": [int(a) for a in np.atleast_1d(axis)]}
        elif op in ("Transpose", "Pad", "PadV2", "MirrorPad"):
            arr = self.const_value(ins[1]) if len(ins) > 1 else None
            spec["inputs"] = ins[:1]
            if op == "Transpose":
                spec["op"] = "Transpose"
                spec["attrs"] = {} if arr is None else {"perm": [int(a) for a in arr]}
            else:
                spec["op"] = "Pad"
                if arr is not None:
                    spec["attrs"]["pads"] = [int(a) for a in arr[:, 0]] + \
                        [int(a) for a in arr[:, 1]]
                if op == "MirrorPad":
                    spec["attrs"]["mode"] = "reflect"
        elif op == "Cast":
            spec["op"] = "Cast"
        elif op == "GatherV2":  # (params, indices, axis): axis an attribute, as ONNX has it
            axis = self.const_value(ins[2]) if len(ins) > 2 else None
            spec["op"], spec["inputs"] = "Gather", ins[:2]
            spec["attrs"] = {"axis": int(axis) if axis is not None else 0}
        elif op in ("ArgMax", "ArgMin"):
            axis = self.const_value(ins[1]) if len(ins) > 1 else None
            spec["op"], spec["inputs"] = op, ins[:1]
            spec["attrs"] = {"axis": int(axis) if axis is not None else 0, "keepdims": 0}
        elif op in ("Split", "SplitV"):
            self.split(nd, spec, ins, op)
        elif op == "Fill":  # (dims, value)
            spec["op"], spec["inputs"] = "ConstantOfShape", ins[:1]
        elif op in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3") \
                and not _attr(nd, "adj_x") and not _attr(nd, "adj_y"):
            spec["op"] = "MatMul"
        elif op == "Einsum":
            spec["op"], spec["attrs"] = "Einsum", {"equation": _attr(nd, "equation")}
        elif op in RESIZE:
            spec["op"], spec["attrs"] = "tf.Resize", {"mode": RESIZE[op]}
        elif op in ("DepthToSpace", "SpaceToDepth"):
            spec["op"] = op
            spec["attrs"] = {"blocksize": int(_attr(nd, "block_size", 2)), "data_format": fmt}
        elif op == "LRN":
            r = int(_attr(nd, "depth_radius", 5))
            spec["op"], spec["attrs"] = "LRN", {"size": 2 * r + 1, "data_format": fmt}
        elif op in ("Conv2DBackpropInput", "Conv3DBackpropInputV2"):
            spec["op"] = "tf.Conv2DBackpropInput"
            spec["attrs"] = dict(strides=_spatial(_attr(nd, "strides"), fmt), data_format=fmt,
                                 padding=_attr(nd, "padding"))
        elif op in SIMPLE:
            spec["op"] = SIMPLE[op]
        else:
            spec["op"] = f"tf.{op}"
        spec.setdefault("op", f"tf.{op}")
        for key in ("axis", "num", "N", "begin_mask", "end_mask", "ellipsis_mask",
                    "new_axis_mask", "shrink_axis_mask"):
            if spec["op"].startswith("tf.") and key in nd.attr:
                spec["attrs"][key] = int(_attr(nd, key))
        return spec

    def split(self, nd, spec, ins, op) -> None:
        """Split(axis, value) / SplitV(value, size_splits, axis) -> ONNX Split."""
        if op == "Split":
            axis, data, sizes = self.const_value(ins[0]), ins[1], None
        else:
            axis, data, sizes = self.const_value(ins[2]), ins[0], self.const_value(ins[1])
        spec["op"], spec["inputs"] = "Split", [data]
        spec["attrs"] = {"axis": int(axis) if axis is not None else 0}
        n = int(_attr(nd, "num_split", 0)) or (len(sizes) if sizes is not None else 0)
        if n:
            spec["outputs"] = [value_name(nd.name, k) for k in range(max(n, len(spec["outputs"])))]
        if sizes is not None and -1 not in list(sizes):
            spec["attrs"]["split"] = [int(v) for v in sizes]

    def conv(self, nd, spec, fmt, depthwise):
        spec["op"] = "Conv"
        filt = spec["inputs"][1]
        base = node_name(filt)[0]
        t = self.consts.get(base)
        attrs = dict(strides=_spatial(_attr(nd, "strides"), fmt),
                     dilations=_spatial(_attr(nd, "dilations"), fmt) or None,
                     data_format=fmt)
        pad = _attr(nd, "padding")
        if pad == "EXPLICIT":
            p = _attr(nd, "explicit_paddings")
            sp = _spatial_pairs(p, fmt)
            attrs["pads"] = [b for b, _ in sp] + [e for _, e in sp]
        else:
            attrs["auto_pad"] = PADDING.get(pad, "VALID")
        if t is not None:
            shape = tuple(d.size for d in t.tensor_shape.dim)   # [*k, cin, cout or mult]
            nd_ = len(shape) - 2
            attrs["kernel_shape"] = list(shape[:nd_])
            if depthwise:
                cin, mult = shape[-2], shape[-1]
                oshape = (cin * mult, 1) + shape[:nd_]
                attrs["group"] = cin

                def load(t=t, oshape=oshape, nd_=nd_):
                    a = tensor_array(t)  # [kh, kw, cin, mult] -> [cin*mult, 1, kh, kw]
                    return np.ascontiguousarray(
                        a.transpose(nd_, nd_ + 1, *range(nd_))).reshape(oshape)
            else:
                oshape = (shape[-1], shape[-2]) + shape[:nd_]

                def load(t=t, nd_=nd_):
                    a = tensor_array(t)  # [*k, cin, cout] -> [cout, cin, *k]
                    return np.ascontiguousarray(a.transpose(nd_ + 1, nd_, *range(nd_)))
            view = f"{filt}/oihw"
            spec["inputs"][1] = view
            spec["weight_views"] = {view: WeightData(oshape, DTYPES.get(t.dtype, "float32"),
                                                     loader=load)}
        else:  # a filter that is not a Const (a variable): keep TF's [*k, cin, cout] order
            attrs["filter_layout"] = "HWIM" if depthwise else "HWIO"
        if not depthwise:
            attrs["group_from_input"] = 1  # grouped when the filter has fewer input channels
        spec["attrs"] = {k: v for k, v in attrs.items() if v is not None}

    def fold_bias(self) -> None:
        """Conv/MatMul followed by a bias add (BiasAdd, or Keras 3's Add of a reshaped Const),
        where each step has one reader -> one node with the bias as its third input, as ONNX
        and Keras show it."""
        readers: dict[str, int] = {}
        for s in self.specs:
            for i in s["inputs"]:
                readers[i] = readers.get(i, 0) + 1
        producer = {s["outputs"][0]: s for s in self.specs}
        dropped: set[int] = set()
        for s in self.specs:
            if s["source_op"] not in ("BiasAdd", "Add", "AddV2") or len(s["inputs"]) != 2:
                continue
            src = producer.get(s["inputs"][0])
            if (src is None or src["op"] not in ("Conv", "MatMul") or len(src["inputs"]) != 2
                    or readers.get(src["outputs"][0]) != 1):
                continue
            bias, chain = s["inputs"][1], []
            while bias in producer and producer[bias]["op"] in ("Reshape", "Squeeze") \
                    and readers.get(bias) == 1:
                chain.append(producer[bias])
                bias = producer[bias]["inputs"][0]
            t = self.consts.get(node_name(bias)[0])
            if t is None or len(t.tensor_shape.dim) != 1:
                continue
            src["inputs"].append(bias)
            if src["op"] == "MatMul":
                src["op"] = "Gemm"
            self.alias[s["outputs"][0]] = src["outputs"][0]
            src["types"] = s["types"] or src["types"]
            dropped.update(id(x) for x in chain + [s])
        keep = [s for s in self.specs if id(s) not in dropped]
        for s in keep:
            s["inputs"] = [self._realias(i) for i in s["inputs"]]
        self.specs = keep

    def _realias(self, v):
        start, steps = v, 0
        while v in self.alias:
            v = self.alias[v]
            steps += 1
            if steps > len(self.alias):  # Identity nodes that read each other
                self.fail("a cycle of Identity nodes", node=start)
        return v


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix and name else prefix or name


def _spatial(vals, fmt):
    """NHWC-ordered per-dim list [1, h, w, 1] -> [h, w] (NCHW: [1, 1, h, w] -> [h, w])."""
    if not vals:
        return None
    vals = list(vals)
    return vals[1:-1] if fmt.endswith("C") else vals[2:]


def _spatial_pairs(vals, fmt):
    pairs = [(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
    return pairs[1:-1] if fmt.endswith("C") else pairs[2:]
