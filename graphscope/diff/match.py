"""Matching the nodes of two graphs: which node (or group of nodes) of A is which of B.

Every phase is linear in the graph size (dictionaries of keys, and a work list of value
pairs); nothing compares all pairs of nodes. The phases, strongest evidence first:

1. name: the same node name on both sides;
2. provenance: a lowering names its nodes ``<source node>/<part>`` (convert/lower_*.py), so
   B nodes under an unmatched A node's name form one group with it (and the other way);
3. weights: the same weight tensor names (a PyTorch module and its ONNX export keep them);
4. namespace: the k-th node of an op in a namespace, when both sides have as many and
   its output shapes agree;
5. structure: from matched pairs, along the edges: the unmatched consumers (producers) of
   two matched values pair up when op, attributes and shapes agree, then by op alone when
   exactly one candidate is left on each side; graph inputs and outputs seed it;
6. unique signature: an (op, attributes, shapes) key found once on each side;
7. fusion: an unmatched node next to a match whose other side carries its namespace, where
   its own side does not (an exporter fused BatchNorm into the Conv before it and named the
   result after the BatchNorm's module), joins that match.
8. runs: a chain of unmatched nodes between two matches, and one between the same two
   matches on the other side, is the same computation: pairs in order when the ops agree
   (or both are one node), else one group (GlobalAveragePool+Flatten = ReduceMean+Reshape);
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

from ..ir.graph import Graph, Node, Value


@dataclass
class Match:
    """Nodes of A and nodes of B that are one thing (1:1, or a group: a lowering, a fusion)."""

    a: list[Node]
    b: list[Node]
    how: str
    extra: dict = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        return len(self.a) != 1 or len(self.b) != 1


def _data_inputs(n: Node) -> list[Value]:
    return [v for v in n.inputs if v is not None and not v.is_weight]


def _weights(n: Node) -> list[Value]:
    """The node's tensors to compare: floating-point weights of more than one element
    (Constant-node values included: an exporter may fold a bias into one). Integer shape
    operands and scalars (Reshape's shape, Clip's bounds) are initializers in ONNX but
    attributes elsewhere: not weights to compare."""
    return [v for v in n.inputs if v is not None and v.is_weight
            and str(v.data.dtype).startswith(("float", "bfloat")) and v.data.size > 1]


def _shapes(values) -> tuple:
    return tuple(v.type.shape for v in values)


def _attr_key(n: Node) -> tuple:
    """Attributes as a hashable key, framework-private ones (caffe_*, torch_*) left out."""
    from .compare import comparable_attrs
    return tuple(sorted((k, repr(v)) for k, v in comparable_attrs(n).items()))


def strict_sig(n: Node) -> tuple:
    return (n.op, _attr_key(n), _shapes(n.outputs), tuple(w.type.shape for w in _weights(n)))


class Matcher:
    def __init__(self, a: Graph, b: Graph):
        self.ga, self.gb = a, b
        self.a_nodes, self.b_nodes = a.nodes, b.nodes
        self.pos = {id(n): i for i, n in enumerate(a.nodes)}
        self.pos.update({id(n): i for i, n in enumerate(b.nodes)})
        self.of_a: dict[int, Match] = {}  # id(node) -> its match
        self.of_b: dict[int, Match] = {}
        self.matches: list[Match] = []
        self.queue: deque[tuple[Value, Value]] = deque()
        self._sigs: dict[int, tuple] = {}

    def sig(self, n: Node) -> tuple:
        """strict_sig, computed once per node."""
        s = self._sigs.get(id(n))
        if s is None:
            s = self._sigs[id(n)] = strict_sig(n)
        return s

    # -- bookkeeping ---------------------------------------------------------------------
    def free_a(self, n: Node) -> bool:
        return id(n) not in self.of_a

    def free_b(self, n: Node) -> bool:
        return id(n) not in self.of_b

    def pair(self, a: list[Node], b: list[Node], how: str) -> Match:
        m = Match(list(a), list(b), how)
        self.matches.append(m)
        for n in a:
            self.of_a[id(n)] = m
        for n in b:
            self.of_b[id(n)] = m
        if len(a) == 1 and len(b) == 1:
            self._queue_values(a[0], b[0])
        else:
            self._queue_boundary(m)
        return m

    def join(self, m: Match, a: list[Node] = (), b: list[Node] = ()) -> None:
        for n in a:
            m.a.append(n)
            self.of_a[id(n)] = m
        for n in b:
            m.b.append(n)
            self.of_b[id(n)] = m
        m.a.sort(key=lambda n: self.pos[id(n)])
        m.b.sort(key=lambda n: self.pos[id(n)])

    def _queue_boundary(self, m: Match) -> None:
        """A group's inputs and outputs pair up in order when their counts agree."""
        for fn in (_boundary_inputs, _boundary_outputs):
            va, vb = fn(m.a), fn(m.b)
            if len(va) == len(vb):
                self.queue += zip(va, vb)

    def _queue_values(self, a: Node, b: Node) -> None:
        ins_a, ins_b = _data_inputs(a), _data_inputs(b)
        if len(ins_a) == len(ins_b):
            self.queue += zip(ins_a, ins_b)
        if len(a.outputs) == len(b.outputs):
            self.queue += zip(a.outputs, b.outputs)

    # -- phases --------------------------------------------------------------------------
    def run(self) -> list[Match]:
        self.by_name()
        self.by_provenance(self.a_nodes, self.b_nodes, self.free_a, self.free_b, a_side=True)
        self.by_provenance(self.b_nodes, self.a_nodes, self.free_b, self.free_a, a_side=False)
        self.by_key(lambda n: tuple(w.name for w in _weights(n)) or None, "weights")
        self.by_namespace()
        self.seed_io()
        self.propagate()
        self.by_key(self.sig, "signature")
        self.propagate()
        self.absorb_fused()
        self.by_runs()
        self.propagate()
        self.matches.sort(key=lambda m: self.pos[id(m.a[0])] if m.a else 0)
        return self.matches

    def by_name(self) -> None:
        names = {n.name: n for n in self.b_nodes}
        for n in self.a_nodes:
            other = names.get(n.name)
            if other is not None and self.free_b(other):
                self.pair([n], [other], "name")

    def by_provenance(self, src, dst, free_src, free_dst, a_side: bool) -> None:
        """dst nodes named '<src node>/...' whose src node is unmatched: one group."""
        names = {n.name: n for n in src if free_src(n)}
        parts: dict[str, list[Node]] = defaultdict(list)
        for n in dst:
            if not free_dst(n) or "/" not in n.name:
                continue
            prefix = n.name
            while "/" in prefix:  # the longest prefix that names a source node
                prefix = prefix.rsplit("/", 1)[0]
                if prefix in names:
                    parts[prefix].append(n)
                    break
        for name, group in parts.items():
            src_node = names[name]
            if a_side:
                self.pair([src_node], group, "provenance")
            else:
                self.pair(group, [src_node], "provenance")

    def by_key(self, key_fn, how: str) -> None:
        """Pair the free nodes whose key is found exactly once on each side."""
        def index(nodes, free):
            out: dict = {}
            for n in nodes:
                if free(n):
                    k = key_fn(n)
                    if k is not None:
                        out[k] = None if k in out else n  # None: not unique
            return out
        ka = index(self.a_nodes, self.free_a)
        kb = index(self.b_nodes, self.free_b)
        for k, na in ka.items():
            nb = kb.get(k)
            if na is not None and nb is not None and self.free_a(na) and self.free_b(nb):
                self.pair([na], [nb], how)

    def by_namespace(self) -> None:
        """The k-th free node of each (namespace, op), when both sides have equally many."""
        def groups(nodes, free):
            out: dict = defaultdict(list)
            for n in nodes:
                if free(n) and n.namespace:
                    out[(n.namespace, n.op)].append(n)
            return out
        ga, gb = groups(self.a_nodes, self.free_a), groups(self.b_nodes, self.free_b)
        for k, la in ga.items():
            lb = gb.get(k)
            if lb and len(lb) == len(la):
                for na, nb in zip(la, lb):  # an exporter may reorder: shapes must agree
                    if _shapes(na.outputs) == _shapes(nb.outputs):
                        self.pair([na], [nb], "namespace")

    def seed_io(self) -> None:
        """Graph inputs and outputs pair by position (they are the fixed points)."""
        ins_a = [v for v in self.ga.inputs if not v.is_weight]
        ins_b = [v for v in self.gb.inputs if not v.is_weight]
        self.queue += zip(ins_a, ins_b)
        self.queue += zip(self.ga.outputs, self.gb.outputs)
        for m in list(self.matches):  # pairs found so far spread too
            if not m.is_group:
                self._queue_values(m.a[0], m.b[0])
            else:
                self._queue_boundary(m)

    def propagate(self) -> None:
        """Forward first (consumers of matched values), breadth first from the inputs; a
        backward step (the producers of a matched value) only when nothing moves forward:
        otherwise an inserted node could take the place of the node it follows."""
        seen: set[tuple[int, int]] = set()
        backlog: list[tuple[Value, Value]] = []
        while True:
            while self.queue:
                va, vb = self.queue.popleft()
                if (id(va), id(vb)) in seen:
                    continue
                seen.add((id(va), id(vb)))
                backlog.append((va, vb))
                ca = [n for n in _unique(va.consumers) if self.free_a(n)]
                cb = [n for n in _unique(vb.consumers) if self.free_b(n)]
                if ca and cb:
                    self._pair_lists(ca, cb)
            if not backlog:
                return
            va, vb = backlog.pop()
            pa, pb = va.producer, vb.producer
            if pa is not None and pb is not None and self.free_a(pa) and self.free_b(pb) \
                    and pa.op == pb.op:
                self.pair([pa], [pb], "structure")

    def _pair_lists(self, ca: list[Node], cb: list[Node]) -> None:
        """Consumers of two matched values: equal signatures pair in order, then what is
        left pairs by op when one of that op is left on each side."""
        for key_fn in (self.sig, lambda n: n.op):
            by_a: dict = defaultdict(list)
            by_b: dict = defaultdict(list)
            for n in ca:
                if self.free_a(n):
                    by_a[key_fn(n)].append(n)
            for n in cb:
                if self.free_b(n):
                    by_b[key_fn(n)].append(n)
            for k, la in by_a.items():
                lb = by_b.get(k, [])
                if key_fn == self.sig or (len(la) == 1 and len(lb) == 1):
                    for na, nb in zip(la, lb):
                        self.pair([na], [nb], "structure")

    def by_runs(self) -> None:
        """Chains of free nodes with the same matches on either end (see the docstring)."""
        runs_b: dict = defaultdict(list)
        for n in self.b_nodes:
            if self.free_b(n) and not any(v.producer is not None and self.free_b(v.producer)
                                          for v in _data_inputs(n)):
                run = _chain(n, self.free_b)
                before, after = _ends(run, self.of_b)
                if before is not None:
                    runs_b[(id(before), id(after))].append(run)
        for n in self.a_nodes:
            if not self.free_a(n) or any(v.producer is not None and self.free_a(v.producer)
                                         for v in _data_inputs(n)):
                continue
            run = _chain(n, self.free_a)
            before, after = _ends(run, self.of_a)
            other = runs_b.get((id(before), id(after))) if before is not None else None
            if not other or len(other) != 1:
                continue
            run_b = other.pop()
            if any(not self.free_b(x) for x in run_b):
                continue
            if len(run) == len(run_b) and (len(run) == 1 or all(
                    x.op == y.op for x, y in zip(run, run_b))):
                for x, y in zip(run, run_b):
                    self.pair([x], [y], "structure")
            else:
                self.pair(run, run_b, "run")

    def absorb_fused(self) -> None:
        """A free node whose neighbour's match, on the other side, carries its namespace."""
        for nodes, free, of_self, side in ((self.a_nodes, self.free_a, self.of_a, "a"),
                                           (self.b_nodes, self.free_b, self.of_b, "b")):
            for n in nodes:
                if not free(n) or not n.namespace:
                    continue
                for nb in _neighbours(n):
                    m = of_self.get(id(nb))
                    if m is None:
                        continue
                    mine, other = (m.a, m.b) if side == "a" else (m.b, m.a)
                    # the other side took this node's namespace, not its partner's
                    if any(o.namespace == n.namespace for o in other) and \
                            not any(x.namespace == n.namespace for x in mine):
                        self.join(m, a=[n] if side == "a" else [], b=[n] if side == "b" else [])
                        m.how = "fused" if m.how != "provenance" else m.how
                        break


def _chain(start: Node, free) -> list[Node]:
    """Free nodes from ``start`` along single-consumer, single-input links."""
    run = [start]
    while True:
        outs = [c for v in run[-1].outputs for c in v.consumers]
        if len(outs) != 1 or not free(outs[0]) or len(_data_inputs(outs[0])) != 1:
            return run
        run.append(outs[0])


def _ends(run: list[Node], of: dict) -> tuple:
    """The matches before and after a run (None unless exactly one each)."""
    before = {id(of[id(v.producer)]): of[id(v.producer)] for v in _data_inputs(run[0])
              if v.producer is not None and id(v.producer) in of}
    after = {id(of[id(c)]): of[id(c)] for v in run[-1].outputs for c in v.consumers
             if id(c) in of}
    if len(before) != 1 or len(after) != 1:
        return None, None
    return next(iter(before.values())), next(iter(after.values()))


def _unique(nodes):
    seen: set[int] = set()
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            yield n


def _neighbours(n: Node):
    for v in _data_inputs(n):
        if v.producer is not None:
            yield v.producer
    for v in n.outputs:
        yield from v.consumers


def _boundary_inputs(nodes: list[Node]) -> list[Value]:
    """Data values a group reads from outside itself, in order."""
    inside = {id(v) for n in nodes for v in n.outputs}
    out, seen = [], set()
    for n in nodes:
        for v in _data_inputs(n):
            if id(v) not in inside and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def _boundary_outputs(nodes: list[Node]) -> list[Value]:
    """Values a group gives to nodes outside it (or to the graph's outputs)."""
    inside = {id(n) for n in nodes}
    out = []
    for n in nodes:
        for v in n.outputs:
            if v.omitted:
                continue
            if not v.consumers or any(id(c) not in inside for c in v.consumers):
                out.append(v)
    return out


def match(a: Graph, b: Graph) -> list[Match]:
    """The matches between the nodes of ``a`` and ``b`` (see the module's docstring)."""
    return Matcher(a, b).run()


boundary_inputs = _boundary_inputs
boundary_outputs = _boundary_outputs
data_inputs = _data_inputs
weight_inputs = _weights
