"""Grouping: turn a Graph into boxes, edges and a namespace tree, collapsing deep namespaces.

Every renderer draws the same View, so collapsing (``depth``) is written once. With depth N,
a node whose namespace has more than N parts is folded into one box for the namespace made of
its first N+1 parts; depth None keeps every node.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Graph, Node, Value


@dataclass
class Box:
    id: str                        # stable across runs: n:<node>, g:<namespace>, in:/out:<value>
    kind: str                      # node | group | input | output
    cluster: str                   # namespace of the cluster that holds it ('' = top level)
    node: Node | None = None
    value: Value | None = None
    namespace: str = ""            # for groups: the collapsed namespace
    members: list[Node] = field(default_factory=list)
    title: str = ""                # for groups: the namespace relative to its drawn cluster
    module_class: str = ""         # for groups: the framework's class for it ('BasicBlock')

    def params(self) -> int:
        return sum(n.meta.get("params") or 0 for n in self.members)

    def macs(self) -> int | None:
        """None when a member's MACs are unknown: an unknown cost is never added as 0."""
        costs = [n.meta.get("macs") for n in self.members]
        return None if any(c is None for c in costs) else sum(costs)


@dataclass
class Edge:
    src: str
    dst: str
    value: Value


@dataclass
class Cluster:
    namespace: str
    boxes: list[Box] = field(default_factory=list)
    children: list["Cluster"] = field(default_factory=list)
    label: str = ""  # the namespace relative to the enclosing drawn cluster

    def __post_init__(self):
        self.label = self.label or self.namespace.rsplit("/", 1)[-1]


@dataclass
class View:
    boxes: list[Box]
    edges: list[Edge]
    root: Cluster
    by_id: dict[str, Box]


MAX_SIBLINGS = 300  # a level with more children than this is drawn as ranges of them
RANGE_SIZE = 100


def display_namespaces(graph: Graph, limit: int = MAX_SIBLINGS,
                       size: int = RANGE_SIZE) -> dict[int, str]:
    """Namespaces to draw nodes in, by id(node), where they differ from node.namespace.

    A level with more than ``limit`` children (sub-namespaces and nodes, in graph order) is
    split into consecutive ranges of ``size`` children (more when that still gives too many
    ranges), each a namespace of its own named after its children ('block[0-99]'), so that
    20,000 repeated blocks open as 200 boxes that expand like any namespace."""
    children: dict[str, list] = {}   # namespace -> its children: ('ns', path) | ('node', id)
    seen: set[str] = set()
    for n in graph.nodes:
        parts = n.namespace.split("/") if n.namespace else []
        for k in range(len(parts)):
            path = "/".join(parts[:k + 1])
            if path not in seen:
                seen.add(path)
                children.setdefault("/".join(parts[:k]), []).append(("ns", path))
        children.setdefault(n.namespace, []).append(("node", id(n)))
    ranges: dict[tuple, str] = {}  # child -> the range segment it is drawn in
    for parent, kids in children.items():
        if len(kids) <= limit:
            continue
        step = size
        while -(-len(kids) // step) > limit:
            step *= 10
        for start in range(0, len(kids), step):
            chunk = kids[start:start + step]
            segment = f"{_range_base(chunk)}[{start}-{start + len(chunk) - 1}]"
            for kid in chunk:
                ranges[kid] = segment
    if not ranges:
        return {}
    out: dict[int, str] = {}
    for n in graph.nodes:
        parts = n.namespace.split("/") if n.namespace else []
        shown = []
        for k, part in enumerate(parts):
            segment = ranges.get(("ns", "/".join(parts[:k + 1])))
            if segment:
                shown.append(segment)
            shown.append(part)
        segment = ranges.get(("node", id(n)))
        if segment:
            shown.append(segment)
        if len(shown) != len(parts):
            out[id(n)] = "/".join(shown)
    return out


def _range_base(chunk: list) -> str:
    """'block' when every child of the range is named block<number>; else ''."""
    import re
    names = [kid[1].rsplit("/", 1)[-1] for kid in chunk if kid[0] == "ns"]
    if len(names) != len(chunk) or not names:
        return ""
    base = re.sub(r"[\d_.\-]*$", "", names[0])
    return base if base and all(name.startswith(base) for name in names) else ""


def collapsed_namespace(namespace: str, depth: int | None) -> str | None:
    """The namespace a node at ``namespace`` is folded into, or None if it stays a node."""
    if depth is None or not namespace:
        return None
    parts = namespace.split("/")
    return "/".join(parts[:depth + 1]) if len(parts) > depth else None


def parent_namespace(namespace: str) -> str:
    return namespace.rsplit("/", 1)[0] if "/" in namespace else ""


def build_view(graph: Graph, depth: int | None = None, blobs: bool = False) -> View:
    """Boxes and edges to draw. ``blobs`` draws each tensor as a box of its own between its
    producer and its consumers, as Caffe's draw_net does."""
    boxes: list[Box] = []
    by_id: dict[str, Box] = {}
    box_of_node: dict[int, Box] = {}
    modules = graph.metadata.get("modules") or {}  # namespace -> class, where adapters know it

    def add(box: Box) -> Box:
        boxes.append(box)
        by_id[box.id] = box
        return box

    shown = display_namespaces(graph)  # crowded levels drawn as ranges of siblings

    for v in graph.inputs:
        add(Box(f"in:{v.name}", "input", "", value=v))
    for n in graph.nodes:
        ns = shown.get(id(n), n.namespace)
        group = collapsed_namespace(ns, depth)
        if group is None:
            box_of_node[id(n)] = add(Box(f"n:{n.name}", "node", ns, node=n, members=[n]))
            continue
        box = by_id.get(f"g:{group}")
        if box is None:
            box = add(Box(f"g:{group}", "group", parent_namespace(group), namespace=group,
                          module_class=modules.get(group, "")))
        box.members.append(n)
        box_of_node[id(n)] = box
    for v in graph.outputs:
        add(Box(f"out:{v.name}", "output", "", value=v))
    for i, box in enumerate(boxes):  # a group of one op is just that op
        if box.kind == "group" and len(box.members) == 1:
            n = box.members[0]
            boxes[i] = Box(f"n:{n.name}", "node", shown.get(id(n), n.namespace), node=n,
                           members=[n])
            del by_id[box.id]
            by_id[boxes[i].id] = box_of_node[id(n)] = boxes[i]

    edges: list[Edge] = []
    seen: set[tuple[str, str, str]] = set()

    def connect(src: Box, dst: Box, v: Value) -> None:
        key = (src.id, dst.id, v.name)
        if src is not dst and key not in seen:
            seen.add(key)
            edges.append(Edge(src.id, dst.id, v))

    inputs = {v.name: by_id[f"in:{v.name}"] for v in graph.inputs}
    for n in graph.nodes:
        dst = box_of_node[id(n)]
        for v in n.inputs:
            if v is None:
                continue
            if v.producer is not None and id(v.producer) in box_of_node:
                connect(box_of_node[id(v.producer)], dst, v)
            elif v.name in inputs:
                connect(inputs[v.name], dst, v)
    for v in graph.outputs:
        dst = by_id[f"out:{v.name}"]
        if v.producer is not None and id(v.producer) in box_of_node:
            connect(box_of_node[id(v.producer)], dst, v)
        elif v.name in inputs:
            connect(inputs[v.name], dst, v)
    if blobs:
        edges = _route_through_blobs(edges, by_id, add)
    return View(boxes, edges, _cluster_tree(boxes), by_id)


def _route_through_blobs(edges: list[Edge], by_id: dict[str, Box], add) -> list[Edge]:
    routed: list[Edge] = []
    for e in edges:
        src = by_id[e.src]
        if src.kind == "input" or by_id[e.dst].kind == "output":
            routed.append(e)
            continue
        blob_id = f"v:{e.value.name}"
        if blob_id not in by_id:
            add(Box(blob_id, "blob", src.cluster, value=e.value))
            routed.append(Edge(e.src, blob_id, e.value))
        routed.append(Edge(blob_id, e.dst, e.value))
    return routed


def _cluster_tree(boxes: list[Box]) -> Cluster:
    """Nest boxes by namespace. A namespace holding a single box and no sub-namespace is not
    worth a frame of its own: its box moves up to the enclosing cluster."""
    clusters: dict[str, Cluster] = {"": Cluster("")}

    def get(ns: str) -> Cluster:
        c = clusters.get(ns)
        if c is None:
            c = clusters[ns] = Cluster(ns)
            get(parent_namespace(ns)).children.append(c)
        return c

    for box in boxes:
        get(box.cluster).boxes.append(box)
    _flatten_trivial(clusters[""])
    return clusters[""]


def _flatten_trivial(c: Cluster) -> None:
    kept = []
    for child in c.children:
        _flatten_trivial(child)
        if not child.children and len(child.boxes) <= 1:
            for box in child.boxes:
                if box.kind == "group":
                    box.title = box.namespace[len(c.namespace):].lstrip("/")
            c.boxes.extend(child.boxes)
        elif not child.boxes and len(child.children) == 1:
            only = child.children[0]  # a frame around a single frame adds nothing
            only.label = f"{child.label}/{only.label}"
            kept.append(only)
        else:
            kept.append(child)
    c.children = kept


def boundaries(view: View) -> dict[str, tuple[list[Value], list[Value]]]:
    """For each box id, the values entering and leaving it (deduplicated, in edge order)."""
    ins: dict[str, list[Value]] = {}
    outs: dict[str, list[Value]] = {}
    for e in view.edges:
        lst = ins.setdefault(e.dst, [])
        if e.value not in lst:
            lst.append(e.value)
        lst = outs.setdefault(e.src, [])
        if e.value not in lst:
            lst.append(e.value)
    return {b.id: (ins.get(b.id, []), outs.get(b.id, [])) for b in view.boxes}
