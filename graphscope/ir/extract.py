"""A new Graph made of some nodes of another (sharing their weight data), with chosen outputs.
Used to drop what a backend cannot run and to cut a graph at a layer."""
from __future__ import annotations

from .graph import Graph, Node


def extract(graph: Graph, keep: list[Node], outputs: list[str]) -> Graph:
    sub = Graph(graph.name, dict(graph.metadata))
    kept = {id(n) for n in keep}
    needed = {v.name for n in keep for v in n.inputs if v is not None}
    for v in graph.inputs:
        if v.name in needed:
            sub.add_input(v.name, v.type)
    for name, v in graph.weights.items():
        if name in needed:
            w = sub.add_weight(name, v.data)
            w.meta.update(v.meta)
    for n in graph.nodes:
        if id(n) not in kept:
            continue
        new = sub.add_node(n.op, [None if v is None else v.name for v in n.inputs],
                           [v.name for v in n.outputs], dict(n.attrs), name=n.name,
                           namespace=n.namespace, source_op=n.source_op, meta=dict(n.meta))
        new.subgraphs = dict(n.subgraphs)
        for old, v in zip(n.outputs, new.outputs):
            v.type = old.type
    for name in outputs:
        sub.add_output(name)
    return sub


def descendants(graph: Graph, roots: list[Node]) -> set[int]:
    """ids of ``roots`` and of every node that reads, directly or not, what they produce."""
    out = {id(n) for n in roots}
    for n in graph.nodes:  # topological order: one pass suffices
        if id(n) in out:
            continue
        if any(v is not None and v.producer is not None and id(v.producer) in out
               for v in n.inputs):
            out.add(id(n))
    return out
