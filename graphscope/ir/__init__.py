"""The graph IR and the passes over it."""
from .graph import DTYPE_BYTES, Dim, Graph, Node, TensorType, Value, WeightData
from .ops import OPS, OpSchema, category, schema
from .shapes import infer_shapes
from .stats import compute_stats, totals


def _load_domain_ops() -> None:
    """Framework-specific ops ('caffe.PriorBox', 'torch.*', 'tf.*') register themselves, with
    their shape and MAC rules, from ops_<domain>.py modules beside this one."""
    from ..registry import import_optional
    for domain in ("caffe", "torch", "tf"):
        import_optional(f"{__name__}.ops_{domain}")


_load_domain_ops()


def run_passes(graph: Graph) -> Graph:
    """What every loaded graph goes through: validation, shape inference, stats."""
    graph.validate()
    infer_shapes(graph)
    compute_stats(graph)
    return graph


__all__ = ["Dim", "DTYPE_BYTES", "Graph", "Node", "TensorType", "Value", "WeightData", "OPS",
           "OpSchema", "category", "schema", "infer_shapes", "compute_stats", "totals",
           "run_passes"]
