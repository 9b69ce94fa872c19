"""The graph IR: TensorType, Value, Node, Graph (after torch.fx's small Graph/Node design)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Union

from ..errors import GraphError

Dim = Union[int, str, None]  # static size, symbol, or unknown


@dataclass(frozen=True)
class TensorType:
    """dtype is a numpy-style name ('float32', 'int64'); shape None means unknown rank."""

    dtype: str | None = None
    shape: tuple[Dim, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def shape_str(self) -> str:
        """'1x3x224x224', 'Nx1000', '?x?' or '?' (unknown rank); '' scalars become '()'."""
        if self.shape is None:
            return "?"
        if not self.shape:
            return "()"
        return "x".join("?" if d is None else str(d) for d in self.shape)


DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8,
               "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "uint16": 2, "uint32": 4,
               "uint64": 8, "bool": 1, "complex64": 8, "complex128": 16,
               "float8e4m3fn": 1, "float8e5m2": 1, "int4": 1, "uint4": 1}


class WeightData:
    """A weight tensor whose array is read only when asked for (``.array``)."""

    __slots__ = ("shape", "dtype", "_loader", "_array")

    def __init__(self, shape: tuple[int, ...], dtype: str, loader: Callable[[], Any] | None = None,
                 array: Any = None):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self._loader = loader
        self._array = array

    @classmethod
    def from_array(cls, array) -> "WeightData":
        return cls(array.shape, str(array.dtype), array=array)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def loaded(self) -> bool:
        return self._array is not None

    @property
    def array(self):
        if self._array is None:
            if self._loader is None:
                raise GraphError("weight has no data (structure-only model)")
            self._check_declared_size()
            self._array = self._loader()
        return self._array

    def read(self):
        """The array, without keeping it when it was not loaded already: for one pass over
        weights that together would not fit in memory (streaming a conversion)."""
        if self._array is not None or self._loader is None:
            return self.array
        self._check_declared_size()
        return self._loader()

    def _check_declared_size(self) -> None:
        """A file may declare any shape: refuse one over the memory limit before a loader
        allocates it (a Const of 2^40 floats written as one repeated value, say)."""
        from ..bounded import max_memory
        import numpy as np
        try:
            itemsize = np.dtype(self.dtype).itemsize
        except TypeError:  # bfloat16, float8, strings: count a byte each
            itemsize = 1
        if self.size * itemsize > max_memory():
            raise GraphError(f"a weight of shape {list(self.shape)} ({self.dtype}) declares "
                             f"{self.size * itemsize:,} bytes, over the memory limit; raise it "
                             f"with --max-memory if the model really is that large")


class Value:
    """An edge: a tensor produced by at most one node and read by any number of them."""

    __slots__ = ("name", "type", "producer", "consumers", "data", "meta")

    def __init__(self, name: str, type: TensorType | None = None, data: WeightData | None = None):
        self.name = name
        self.type = type or TensorType()
        self.producer: Node | None = None
        self.consumers: list[Node] = []
        self.data = data
        self.meta: dict[str, Any] = {}

    @property
    def is_weight(self) -> bool:
        return self.data is not None

    @property
    def omitted(self) -> bool:
        """An optional output the model leaves out (ONNX: an empty name): nothing reads it."""
        return not self.name

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {self.type.dtype}, {self.type.shape_str()})"


class Node:
    """One operation. ``op`` is canonical (ONNX name where one exists); ``source_op`` is the
    framework's own type name; ``namespace`` is a '/'-separated path used for grouping."""

    __slots__ = ("name", "op", "inputs", "outputs", "attrs", "namespace", "source_op", "meta",
                 "subgraphs")

    def __init__(self, name: str, op: str, inputs: list[Value | None], outputs: list[Value],
                 attrs: dict[str, Any] | None = None, namespace: str = "",
                 source_op: str | None = None, meta: dict[str, Any] | None = None,
                 subgraphs: dict[str, "Graph"] | None = None):
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = attrs or {}
        self.namespace = namespace
        self.source_op = source_op or op
        self.meta = meta or {}
        self.subgraphs = subgraphs or {}

    def input_types(self) -> list[TensorType | None]:
        return [None if v is None else v.type for v in self.inputs]

    def weight_inputs(self) -> list[Value]:
        return [v for v in self.inputs if v is not None and v.is_weight]

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op})"


class Graph:
    """Nodes in topological order, with graph inputs, outputs, weights and metadata."""

    def __init__(self, name: str = "graph", metadata: dict[str, Any] | None = None,
                 parent: "Graph | None" = None):
        self.name = name
        self.metadata: dict[str, Any] = metadata or {}
        self.parent = parent  # enclosing graph, for subgraphs that read outer-scope values
        self.nodes: list[Node] = []
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.values: dict[str, Value] = {}
        self._node_names: set[str] = set()

    # -- building -------------------------------------------------------------------------
    def value(self, name: str) -> Value:
        """The value called ``name``, created if new."""
        v = self.values.get(name)
        if v is None:
            v = self.values[name] = Value(name)
        return v

    def add_input(self, name: str, type: TensorType | None = None) -> Value:
        v = self.value(name)
        if type is not None:
            v.type = type
        self.inputs.append(v)
        return v

    def add_weight(self, name: str, data: WeightData) -> Value:
        v = self.value(name)
        v.data = data
        v.type = TensorType(data.dtype, data.shape)
        return v

    def add_output(self, name: str) -> Value:
        v = self.value(name)
        self.outputs.append(v)
        return v

    def add_node(self, op: str, inputs: Iterable[str | Value | None], outputs: Iterable[str | Value],
                 attrs: dict[str, Any] | None = None, name: str | None = None, **fields) -> Node:
        """Append a node; inputs/outputs are value names (or Values). ``None`` or '' marks an
        omitted optional input; an omitted optional output keeps its place as an unnamed
        Value of its own, outside ``values`` (``Value.omitted``)."""
        name = name or self.unique_node_name(op.split(".")[-1].lower())
        if name in self._node_names:
            raise GraphError("duplicate node name", node=name)
        ins = [self._input_value(i) if i not in (None, "") else None for i in inputs]
        outs = [self._as_value(o) if o not in (None, "") else Value("") for o in outputs]
        node = Node(name, op, ins, outs, attrs, **fields)
        for v in outs:
            if v.producer is not None:
                raise GraphError(f"value '{v.name}' is already produced by node "
                                 f"'{v.producer.name}'", node=name)
            v.producer = node
        for v in ins:
            if v is not None:
                v.consumers.append(node)
        self._node_names.add(name)
        self.nodes.append(node)
        return node

    def _as_value(self, ref: str | Value) -> Value:
        return ref if isinstance(ref, Value) else self.value(ref)

    def _input_value(self, ref: str | Value) -> Value:
        """A subgraph reads an outer-scope value by name when it has none of its own (ONNX
        names are unique across scopes), sharing the outer Value and so its type."""
        if isinstance(ref, str) and ref not in self.values and self.parent is not None:
            outer = self.parent.lookup(ref)
            if outer is not None:
                return outer
        return self._as_value(ref)

    def unique_node_name(self, base: str) -> str:
        i = len(self.nodes)
        name = f"{base}_{i}"
        while name in self._node_names:
            i += 1
            name = f"{base}_{i}"
        return name

    # -- queries --------------------------------------------------------------------------
    @property
    def weights(self) -> dict[str, Value]:
        return {n: v for n, v in self.values.items() if v.data is not None}

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def walk(self) -> Iterator[tuple["Graph", Node]]:
        """Every node, nested subgraphs included, depth first."""
        for n in self.nodes:
            yield self, n
            for sub in n.subgraphs.values():
                yield from sub.walk()

    def lookup(self, name: str) -> Value | None:
        """Resolve a value name in this graph or an enclosing one."""
        g: Graph | None = self
        while g is not None:
            v = g.values.get(name)
            if v is not None and (v.producer is not None or v.is_weight or v in g.inputs):
                return v
            g = g.parent
        return None

    # -- checks ---------------------------------------------------------------------------
    def toposort(self) -> None:
        """Order nodes so that every producer precedes its consumers (stable: keeps the given
        order where it is already valid). Raises GraphError naming a node on a cycle."""
        index = {id(n): i for i, n in enumerate(self.nodes)}
        indegree = [0] * len(self.nodes)
        for i, n in enumerate(self.nodes):
            preds = {id(v.producer) for v in n.inputs
                     if v is not None and v.producer is not None and id(v.producer) in index}
            indegree[i] = len(preds)
        import heapq
        ready = [i for i, d in enumerate(indegree) if d == 0]
        heapq.heapify(ready)
        order: list[Node] = []
        while ready:
            i = heapq.heappop(ready)
            n = self.nodes[i]
            order.append(n)
            seen: set[int] = set()
            for v in n.outputs:
                for c in v.consumers:
                    j = index.get(id(c))
                    if j is None or j in seen:
                        continue
                    seen.add(j)
                    indegree[j] -= 1
                    if indegree[j] == 0:
                        heapq.heappush(ready, j)
        if len(order) != len(self.nodes):
            stuck = next(n for i, n in enumerate(self.nodes) if indegree[i] > 0)
            raise GraphError("graph has a cycle through this node", node=stuck.name)
        self.nodes = order

    def validate(self) -> "Graph":
        """Check names are unique, every input is produced (or is a graph input, a weight, or
        an outer-scope value) and there is no cycle. Returns self."""
        seen: set[str] = set()
        for n in self.nodes:
            if n.name in seen:
                raise GraphError("duplicate node name", node=n.name)
            seen.add(n.name)
        producers: dict[str, str] = {}
        for n in self.nodes:
            for v in n.outputs:
                if v.omitted:
                    continue
                if v.name in producers:
                    raise GraphError(f"value '{v.name}' is produced twice (also by "
                                     f"'{producers[v.name]}')", node=n.name)
                producers[v.name] = n.name
        inputs = {v.name for v in self.inputs}
        for n in self.nodes:
            for v in n.inputs:
                if v is None or v.name in producers or v.name in inputs or v.is_weight:
                    continue
                if self.parent is not None and self.parent.lookup(v.name) is not None:
                    continue
                raise GraphError(f"input '{v.name}' is not produced by any node, graph input "
                                 f"or weight (dangling input)", node=n.name)
        for v in self.outputs:
            if v.name not in producers and v.name not in inputs and not v.is_weight:
                if self.parent is None or self.parent.lookup(v.name) is None:
                    raise GraphError(f"graph output '{v.name}' is not produced by any node")
        self.toposort()
        for n in self.nodes:
            for sub in n.subgraphs.values():
                sub.validate()
        return self

    # -- conversions ----------------------------------------------------------------------
    def to_networkx(self):
        """A networkx.MultiDiGraph: one vertex per node (attrs: op, namespace, ...), one edge per
        value hop, keyed by value name."""
        import networkx as nx
        g = nx.MultiDiGraph(name=self.name, **self.metadata)
        for n in self.nodes:
            g.add_node(n.name, op=n.op, source_op=n.source_op, namespace=n.namespace,
                       attrs=dict(n.attrs), **{k: v for k, v in n.meta.items()
                                               if k in ("params", "macs", "activation_bytes")})
        for n in self.nodes:
            for v in n.inputs:
                if v is not None and v.producer is not None and v.producer.name in g:
                    g.add_edge(v.producer.name, n.name, key=v.name, shape=v.type.shape,
                               dtype=v.type.dtype)
        return g

    def to_json(self, **options) -> str:
        from .serialize import to_json
        return to_json(self, **options)

    @staticmethod
    def from_json(text: str) -> "Graph":
        from .serialize import from_json
        return from_json(text)

    # -- conveniences (the implementations live in their own modules) --------------------
    def render(self, path_or_format: str, **options):
        """Write to a path (format from its suffix) or return text/bytes for a format name."""
        from ..renderers import render
        return render(self, path_or_format, **options)

    def summary(self, **options) -> str:
        from ..summary import summary_table
        return summary_table(self, **options)

    def totals(self) -> dict[str, int]:
        from .stats import totals
        return totals(self)

    def _repr_html_(self) -> str:  # Jupyter: the interactive viewer
        from ..notebook import repr_html
        return repr_html(self)

    def _repr_svg_(self) -> str | None:  # Jupyter, where HTML is not shown
        from ..notebook import repr_svg
        return repr_svg(self)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes)"
