"""What a .pt2 archive names but this process lacks, supplied without running the archive's
code: output pytree classes (a transformers ``ModelOutput``, a ``DynamicCache``) and custom
ops (transformers' ``grouped_mm_fallback``).

torch.export.load needs both to be registered: a pytree class to rebuild the output spec, an
op to resolve each node's target. We never import the module an archive names (that would
run code the archive chose). Instead, read from the archive's JSON alone:
- an unknown container type becomes a generic container registered under the same
  serialized name: a dict of its keys when its context is a list of names, else a tuple;
- an unknown op becomes a stand-in op with the schema its nodes were serialized with; its
  nodes keep the shapes the archive recorded (meta["val"]); running it raises.
Registrations stay for the process (the ExportedProgram's specs refer to them); a name that
is registered already (transformers imported) is left as it is.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

_CONTAINERS: dict[str, type] = {}
_LIBRARIES: dict[str, object] = {}
_DEFINED: set[str] = set()

_ARG_TYPES = {"as_tensor": "Tensor", "as_tensors": "Tensor[]", "as_optional_tensor": "Tensor?",
              "as_optional_tensors": "Tensor?[]", "as_int": "SymInt", "as_ints": "SymInt[]",
              "as_sym_int": "SymInt", "as_sym_ints": "SymInt[]", "as_float": "float",
              "as_floats": "float[]", "as_sym_float": "SymFloat", "as_bool": "bool",
              "as_bools": "bool[]", "as_sym_bool": "SymBool", "as_string": "str",
              "as_strings": "str[]", "as_scalar_type": "ScalarType?", "as_layout": "Layout?",
              "as_memory_format": "MemoryFormat?", "as_device": "Device?", "as_none": "Tensor?"}


class GenericContainer(dict):
    """An output container whose class is not importable here: its fields by name."""
    serialized_name = ""

    def __repr__(self):
        return f"{type(self).__name__}({dict.__repr__(self)})"


def archive_needs(path: Path) -> tuple[set[str], dict[str, list[dict]]]:
    """(pytree type names, {op target: its serialized nodes}) named by the archive's models."""
    types: set[str] = set()
    ops: dict[str, list[dict]] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not re.search(r"(^|/)models/[^/]+\.json$", name):
                    continue
                text = z.read(name).decode("utf-8", "replace")
                types |= set(re.findall(r'\\"type\\": \\"([\w.]+)\\"', text))
                if "torch.ops." in text and re.search(r'"torch\.ops\.(?!aten\.)', text):
                    model = json.loads(text)
                    for node in model.get("graph_module", {}).get("graph", {}).get("nodes", []):
                        target = node.get("target", "")
                        if target.startswith("torch.ops.") and \
                                not target.startswith("torch.ops.aten."):
                            ops.setdefault(target, []).append(node)
    except (zipfile.BadZipFile, OSError, ValueError, UnicodeError):
        pass  # torch.export.load reports what is wrong with the file
    return types, ops


def supply(path: Path) -> list[str]:
    """Register stand-ins for what ``path`` needs and this process lacks; returns one note
    per stand-in, for the user."""
    types, ops = archive_needs(path)
    notes = [note for name in sorted(types) if (note := _container(name))]
    notes += [note for target in sorted(ops) if (note := _op(target, ops[target]))]
    return notes


def _container(name: str) -> str | None:
    import torch.utils._pytree as pytree
    if name.startswith("builtins.") or name.startswith("collections."):
        return None
    if name in _CONTAINERS or name in pytree.SERIALIZED_TYPE_TO_PYTHON_TYPE:
        return None
    cls = type(name.rsplit(".", 1)[-1], (GenericContainer,),
               {"serialized_name": name, "__module__": "graphscope.stand_in"})

    def flatten(obj):
        return list(obj.values()), list(obj.keys())

    def unflatten(values, context):
        keys = context if isinstance(context, list) and all(isinstance(k, str) for k in context) \
            and len(context) == len(values) else [f"field{i}" for i in range(len(values))]
        return cls(zip(keys, values))
    pytree.register_pytree_node(cls, flatten, unflatten, serialized_type_name=name)
    _CONTAINERS[name] = cls
    return f"output container {name} is not importable here: read as a generic container " \
           "(its field names kept)"


def _op(target: str, nodes: list[dict]) -> str | None:
    """A stand-in for torch.ops.NS.NAME.OVERLOAD with the schema its nodes were saved with."""
    import torch
    m = re.fullmatch(r"torch\.ops\.(\w+)\.(\w+)\.(\w+)", target)
    if m is None:
        return None
    ns, name, overload = m.groups()
    try:
        packet = getattr(getattr(torch.ops, ns), name)
        getattr(packet, overload)
        return None  # registered already
    except (AttributeError, RuntimeError):
        pass
    qualified = f"{ns}::{name}" + ("" if overload == "default" else f".{overload}")
    if qualified in _DEFINED:
        return None
    schema = _schema(name if overload == "default" else f"{name}.{overload}", nodes[0])
    if schema is None:
        return None
    lib = _LIBRARIES.get(ns)
    if lib is None:
        lib = _LIBRARIES[ns] = torch.library.Library(ns, "FRAGMENT")  # noqa: TOR901
    try:
        lib.define(schema)
        lib.impl(name, _refuse(qualified), "CompositeExplicitAutograd")
    except RuntimeError:
        return None
    _DEFINED.add(qualified)
    return f"custom op {qualified} is not registered here (its code is not in the archive): " \
           "read as a node with the schema and shapes the archive recorded"


def _schema(name: str, node: dict) -> str | None:
    args = []
    keyword = False
    for inp in node.get("inputs", []):
        kind = next(iter(inp.get("arg") or {}), None)
        typ = _ARG_TYPES.get(kind)
        if typ is None or not re.fullmatch(r"\w+", inp.get("name", "")):
            return None
        if inp.get("kind") == 2 and not keyword:
            args.append("*")
            keyword = True
        args.append(f"{typ} {inp['name']}")
    outs = []
    for out in node.get("outputs", []):
        kind = next(iter(out or {}), None)
        if kind not in ("as_tensor", "as_tensors", "as_optional_tensor"):
            return None
        outs.append(_ARG_TYPES[kind])
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    return f"{name}({', '.join(args)}) -> {ret}"


def _refuse(qualified: str):
    def run(*args, **kwargs):
        from ...errors import UnsupportedError
        raise UnsupportedError(f"the custom op {qualified} was read from the archive's "
                               "description only; its code is not available to run it")
    return run
