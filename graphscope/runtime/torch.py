"""A torch interpreter over the IR (after torch.fx's Interpreter): an nn.Module whose forward
walks the graph's nodes in order and calls each canonical op's function from
runtime/torch_ops.py (and torch_ops_layers.py), the same functions the generated PyTorch source
calls. Weights become parameters, so gradients flow (explanations) and the module can be
traced or saved. ``overrides`` (op -> fn(torch, node, inputs)) replace an op for a run, e.g.
guided backpropagation's ReLU."""
from __future__ import annotations

from collections import ChainMap
from typing import Callable

import numpy as np

from ..errors import UnsupportedError, require
from ..ir.graph import Graph


def supported(op: str) -> bool:
    return op in function_ops()


def function_ops() -> dict[str, Callable]:
    """op -> its plain torch function in runtime/torch_ops.py / torch_ops_layers.py (shared
    with generated source); empty when torch is missing."""
    try:
        from . import torch_ops
    except ImportError:
        return {}
    return torch_ops.OPS


def call_function(fn: Callable, node, ins: list, opset: int | None = None,
                  subgraphs: dict | None = None):
    """Call a torch_ops function on a node: inputs positionally (trailing omitted ones
    dropped), the node's attributes as keywords, ``subgraphs`` (key -> callable running the
    node's subgraph) as keywords too. An attribute the function does not know is refused by
    name, never ignored."""
    import inspect
    params = inspect.signature(fn).parameters
    keywords = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(node.attrs) - keywords)
    if unknown:
        raise UnsupportedError(f"{node.op}: attribute '{unknown[0]}' is not supported by the "
                               f"torch backend", node=node.name)
    # an attribute an adapter set to None is absent: the operator's default applies
    kwargs = {k: _attr_value(v) for k, v in node.attrs.items() if v is not None}
    if "opset" in keywords and opset is not None:
        kwargs["opset"] = opset
    if "n_outputs" in keywords:  # how many outputs the node asks for (Split)
        kwargs["n_outputs"] = len(node.outputs)
    kwargs.update(subgraphs or {})
    while ins and ins[-1] is None:
        ins = ins[:-1]
    return fn(*ins, **kwargs)


def _attr_value(v):
    """Tensor attributes (numpy arrays) as tensors; numpy scalars as Python numbers."""
    import torch
    if isinstance(v, np.ndarray):
        return torch.from_numpy(owned_array(v))
    if isinstance(v, np.generic):
        return v.item()
    return v


def run_op(node, call: Callable):
    """``call()`` for one node, any failure reported as a GraphscopeError naming the node and
    op: a GraphscopeError gets the node; torch's 'not implemented for <dtype>' is a refusal;
    anything else is a BackendError (an internal fault)."""
    from ..errors import BackendError, GraphscopeError
    try:
        return call()
    except GraphscopeError as exc:
        if exc.node is None:
            exc.node = node.name
        raise
    except NotImplementedError as exc:
        raise UnsupportedError(f"{node.op}: {_first_line(exc)}", node=node.name) from exc
    except Exception as exc:  # noqa: BLE001 - reported with the node, cause chained
        raise BackendError(f"{node.op} failed in the torch backend: "
                           f"{type(exc).__name__}: {_first_line(exc)}", node=node.name) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def torch_runnable(graph: Graph) -> Graph:
    """The graph with the framework ops this backend lacks lowered to ONNX ops."""
    from ..convert.to_onnx import lowered_for
    return lowered_for(graph, supported)


def build_module(graph: Graph, trainable: bool = False):
    """An nn.Module computing ``graph``. Raises UnsupportedError naming the ops it lacks."""
    torch = require("torch", "torch", "running a graph with torch")
    from ..convert.to_onnx import missing_ops, refuse_missing
    missing = missing_ops(graph, supported)
    if missing:
        raise refuse_missing(missing, "the torch backend")
    return _make_module_class(torch)(graph, trainable)


def _make_module_class(torch):
    nn = torch.nn

    class GraphModule(nn.Module):
        def __init__(self, graph: Graph, trainable: bool):
            super().__init__()
            self.graph = graph
            self._names = self._register_weights(graph, "w", trainable)
            # the weights of subgraphs (If branches, Loop bodies), by the subgraph's path
            self._sub_names: dict[str, dict[str, str]] = {}
            for i, (path, sub) in enumerate(_subgraphs(graph)):
                self._sub_names[path] = self._register_weights(sub, f"s{i}w", trainable)
            self.taps: dict[str, Callable] = {}  # value name -> fn(tensor) -> tensor
            self.overrides: dict[str, Callable] = {}  # op -> impl, e.g. guided ReLU
            self.input_perm: tuple | None = None  # permute the first input first (NCHW->NHWC)
            self.functions = function_ops()
            self.opset = graph.metadata.get("opset") if graph.metadata.get("format") == "onnx" \
                else None

        def _register_weights(self, graph: Graph, prefix: str, trainable: bool) -> dict:
            names = {}
            for i, (name, v) in enumerate(sorted(graph.weights.items())):
                key = f"{prefix}{i}_" + "".join(c if c.isalnum() else "_" for c in name)[:60]
                t = torch.from_numpy(owned_array(v.data.read()))
                if t.is_floating_point():
                    self.register_parameter(key, nn.Parameter(t, requires_grad=trainable))
                else:
                    self.register_buffer(key, t)
                names[name] = key
            return names

        def forward(self, *args, capture: list[str] | None = None):
            if self.input_perm is not None:
                args = (args[0].permute(*self.input_perm),) + args[1:]
            env: dict[str, object] = {}
            for v, a in zip(self.graph.inputs, args):
                env[v.name] = a
            for name, key in self._names.items():
                env[name] = getattr(self, key)
            captured: dict[str, object] = {}
            self._run_nodes(self.graph, env, "", capture, captured)
            results = [env[v.name] for v in self.graph.outputs]
            if capture is not None:
                return results, captured
            return results[0] if len(results) == 1 else tuple(results)

        def _run_nodes(self, graph: Graph, env, scope: str, capture=None,
                       captured=None) -> None:
            for node in graph.nodes:
                ins = [None if v is None else env[v.name] for v in node.inputs]
                outs = run_op(node, lambda: self._call(node, ins, env, scope))
                if not isinstance(outs, (list, tuple)):
                    outs = [outs]
                for v, o in zip(node.outputs, outs):
                    if v.name == "":  # an omitted optional output
                        continue
                    tap = self.taps.get(v.name)
                    env[v.name] = tap(o) if tap is not None else o
                    if capture is not None and v.name in capture:
                        captured[v.name] = env[v.name]

        def _call(self, node, ins, env, scope):
            fn = self.overrides.get(node.op)
            if fn is not None:
                return fn(torch, node, ins)
            bodies = {key: self._subgraph_runner(node, key, env, scope)
                      for key in sorted(node.subgraphs)}
            return call_function(self.functions[node.op], node, ins, self.opset, bodies)

        def _subgraph_runner(self, node, key: str, outer_env, scope: str) -> Callable:
            """fn(*inputs) -> the outputs of node.subgraphs[key] fed ``inputs``; the body
            sees the enclosing scopes' values by name, as ONNX subgraphs do."""
            def run(*inputs) -> list:
                graph = node.subgraphs[key]
                env = ChainMap({}, outer_env)
                for v, a in zip(graph.inputs, inputs):
                    env[v.name] = a
                path = _subgraph_path(scope, node, key)
                for name, attr_key in self._sub_names[path].items():
                    env[name] = getattr(self, attr_key)
                self._run_nodes(graph, env, path)
                return [env[v.name] for v in graph.outputs]
            return run

    return GraphModule


def _subgraph_path(scope: str, node, key: str) -> str:
    return f"{scope}/{node.name}.{key}"


def _subgraphs(graph: Graph, scope: str = "") -> list[tuple[str, Graph]]:
    """(path, subgraph) for every nested subgraph, depth first, in a stable order."""
    out = []
    for node in graph.nodes:
        for key, sub in sorted(node.subgraphs.items()):
            path = _subgraph_path(scope, node, key)
            out += [(path, sub)] + _subgraphs(sub, path)
    return out


# -- helpers ---------------------------------------------------------------------------------
def owned_array(a) -> np.ndarray:
    """A writable array torch may share: the weight as read, copied only when read-only."""
    a = np.asarray(a)
    return a if a.flags.writeable and a.flags.c_contiguous else np.array(a)
