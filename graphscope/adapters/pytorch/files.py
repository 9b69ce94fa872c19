"""PyTorch files: .pt2 (torch.export.save), TorchScript archives (torch.jit.save) and
checkpoints (torch.save of a state_dict, or of a whole module with --trust).

Checkpoints are read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
containers only; a pickle that names any other callable is refused before it can run.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import types
import zipfile
from pathlib import Path

from ...errors import GraphscopeError, ParseError, UnsafeModelError, UsageError
from ...ir import Graph, TensorType
from .build import Builder

BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
STATE_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "weights")


def load_file(path: Path, **options) -> Graph:
    try:
        return _load_file(path, **options)
    except GraphscopeError as exc:  # errors found while tracing: name the file they came from
        if exc.file is None:
            exc.file = str(path)
        raise


def _load_file(path: Path, example_inputs=None, input_shapes=None, model_factory=None,
               trust=False, dynamic_shapes=None, method=None) -> Graph:
    from ...archive import check_if_zip
    from .capture import capture, read_exported
    check_if_zip(path, "PyTorch archive")  # torch's reader trusts a zip's declared sizes
    if path.suffix.lower() == ".pt2":
        notes: list[str] = []
        ep = load_exported_program(path, trust, notes)
        if _other_shapes(ep, input_shapes) or example_inputs is not None:
            # shapes other than the archive's: trace its program again (a program exported
            # with static shapes refuses others, which is then one ShapeError)
            module = ep.module()
            inputs = example_inputs_for(module, example_inputs, input_shapes)
            return capture(module, inputs, dynamic_shapes=dynamic_shapes, method="export")
        graph = read_exported(ep, path.stem, capture="torch.export.load")
        graph.metadata.setdefault("warnings", []).extend(notes)
        return graph
    if _is_torchscript(path):
        return _load_torchscript(path, example_inputs, input_shapes)
    obj = _torch_load(path, trust)
    if _is_module(obj):  # a pickled whole module: only reachable with --trust
        inputs = example_inputs_for(obj, example_inputs, input_shapes)
        return capture(obj, inputs, dynamic_shapes=dynamic_shapes, method=method)
    state = find_state_dict(obj, path)
    if model_factory is None:
        return state_dict_graph(state, path.stem)
    module = build_from_factory(model_factory, state, path)
    inputs = example_inputs_for(module, example_inputs, input_shapes)
    graph = capture(module, inputs, dynamic_shapes=dynamic_shapes, method=method)
    graph.metadata["model_factory"] = model_factory
    return graph


def _other_shapes(ep, input_shapes) -> bool:
    if not input_shapes:
        return False
    have = {n.name: tuple(getattr(n.meta.get("val"), "shape", ()))
            for n in ep.graph.nodes if n.op == "placeholder"}
    return any(have.get(k) != tuple(v) for k, v in input_shapes.items())


def load_exported_program(path: Path, trust: bool, notes: list | None = None):
    """torch.export.load, with stand-ins for the output classes and custom ops the archive
    names but this process lacks (stand_ins.py; ``notes`` gets one line per stand-in). When
    loading fails, the error carries the reason torch logged."""
    import torch
    from .capture import _quiet
    from .stand_ins import supply
    with _quiet():
        found = supply(path)
    if notes is not None:
        notes.extend(found)
    logged: list[str] = []
    try:
        with _quiet(), _torch_log(logged), _weights_only(trust, path):
            return torch.export.load(str(path))
    except UnsafeModelError:
        raise
    except Exception as exc:  # zip, json and pickle errors of a corrupt archive
        reason = _root_cause("\n".join(logged)) or f"{type(exc).__name__}: {_short(exc)}"
        raise ParseError(f"not a valid torch.export archive ({reason})", file=str(path)) \
            from None


@contextlib.contextmanager
def _torch_log(lines: list):
    """Collect what torch logs as warnings (torch.export.load logs the real reason a load
    failed, then raises a generic error) instead of printing it."""
    import logging

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    log = logging.getLogger("torch.export")
    saved = log.handlers[:], log.level, log.propagate
    log.handlers = [Collect(logging.WARNING)]  # torch's own handlers print to the terminal
    log.setLevel(logging.WARNING)
    log.propagate = False
    try:
        yield
    finally:
        log.handlers, level, log.propagate = saved
        log.setLevel(level)


def _root_cause(text: str) -> str | None:
    """The first exception line of a logged traceback (the cause, before 'The above...')."""
    import re
    m = re.search(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", text, re.M)
    return f"{m.group(1)}: {m.group(2)[:300]}" if m else None


@contextlib.contextmanager
def _weights_only(trust: bool, path: Path):
    """torch.export.load unpickles pickled weights and constants with full pickle
    (weights_only=False): unless trusted, force torch.load to weights_only=True and refuse
    plain pickle.loads for the duration of the call."""
    import pickle
    import torch
    if trust:
        yield
        return
    from torch.export.pt2_archive import _package
    original_load, original_pickle = torch.load, _package.pickle

    def safe_load(*args, **kwargs):
        kwargs["weights_only"] = True
        try:
            return original_load(*args, **kwargs)
        except pickle.UnpicklingError as exc:
            raise _unsafe(exc, path) from None

    def refuse(*args, **kwargs):
        raise UnsafeModelError("the archive holds a pickled object that would run code on "
                               "loading; pass --trust (trust=True) only if you trust the file",
                               file=str(path))
    torch.load = safe_load
    _package.pickle = types.SimpleNamespace(loads=refuse, load=refuse)
    try:
        yield
    finally:
        torch.load, _package.pickle = original_load, original_pickle


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in n for n in z.namelist())
    except Exception:  # noqa: BLE001 - any corrupt zip (names not UTF-8, bad sizes...) is
        return False   # not TorchScript here; torch.load then says what is wrong with it


def _load_torchscript(path: Path, example_inputs, input_shapes) -> Graph:
    import torch
    from .capture import _quiet, read_script
    try:
        with _quiet():  # torch.jit.* warns that it is deprecated
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise ParseError(f"not a valid TorchScript archive ({type(exc).__name__}: "
                         f"{_short(exc)})", file=str(path)) from None
    example = script_inputs(module, example_inputs, input_shapes)
    graph = read_script(module, path.stem, capture="torch.jit.load", example=example)
    if example is None:
        names = [v.name for v in graph.inputs]
        hint = " ".join(f"{n}=D1,D2,..." for n in names) or "NAME=D1,D2,..."
        graph.metadata.setdefault("warnings", []).append(
            "a TorchScript archive records no shapes: shapes and MACs are unknown; pass "
            f"--input-shape {hint} (example_inputs=... in Python) to propagate them")
    return graph


def script_inputs(module, example_inputs, input_shapes):
    """The example tensors to run a TorchScript archive on: given ones, or random ones of the
    --input-shape shapes (int64 token ids for inputs that feed an embedding); None if none."""
    import torch
    from .capture import token_inputs
    if example_inputs is not None:
        return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) \
            else (example_inputs,)
    if not input_shapes:
        return None
    names = [re.sub(r"\.\d+$", "", v.debugName())
             for v in list(module.inlined_graph.inputs())[1:]]
    unknown = [n for n in input_shapes if n not in names]
    if unknown:
        raise UsageError(f"--input-shape: the model has no input '{unknown[0]}' "
                         f"(its inputs: {', '.join(names) or 'none'})")
    tokens = token_inputs(module)
    gen = torch.Generator().manual_seed(0)
    example = []
    for pos, n in enumerate(names):
        if n not in input_shapes:
            raise UsageError(f"--input-shape: give a shape for every input of the archive "
                             f"(missing '{n}'; its inputs: {', '.join(names)})")
        if not all(isinstance(d, int) for d in input_shapes[n]):
            raise UsageError(f"--input-shape {n}: give every dimension as a number to run "
                             f"a TorchScript archive (got {input_shapes[n]})")
        shape = tuple(input_shapes[n])
        example.append(torch.randint(0, 2, shape, generator=gen) if pos in tokens
                       else torch.randn(shape, generator=gen))
    return tuple(example)


def _torch_load(path: Path, trust: bool):
    import pickle
    import torch
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if not trust and "weights_only" in str(exc):
            raise _unsafe(exc, path) from None
        raise ParseError(f"not a valid PyTorch checkpoint ({_short(exc)})",
                         file=str(path)) from None
    except Exception as exc:  # torch's reader on a corrupt file: zip, pickle, storage errors
        raise ParseError(f"not a valid PyTorch checkpoint ({type(exc).__name__}: "
                         f"{_short(exc)})", file=str(path)) from None


def _unsafe(exc, path: Path) -> UnsafeModelError:
    return UnsafeModelError(
        f"the pickle needs code beyond tensors and containers ({_unsafe_global(exc)}); "
        "refusing to run it. Load it with --trust (trust=True) only if you trust where the "
        "file came from", file=str(path))


def _unsafe_global(exc) -> str:
    import re
    m = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(exc))
    if m:
        return f"it calls {m.group(1)}"
    m = re.search(r"Unsupported operand \d+|Unsupported class [\w.]+", str(exc))
    return m.group(0) if m else "unsupported pickle content"


def _short(exc) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def _is_module(obj) -> bool:
    return any(c.__name__ == "Module" and c.__module__.startswith("torch")
               for c in type(obj).__mro__)


def find_state_dict(obj, path: Path) -> dict:
    """The tensors of a checkpoint: a state_dict, or one under a usual key
    ('state_dict', 'model', ...); nested dicts flatten to dotted names."""
    import torch
    if isinstance(obj, dict):
        for key in STATE_KEYS:
            sub = obj.get(key)
            if isinstance(sub, dict) and any(isinstance(v, torch.Tensor) for v in sub.values()):
                return _flat_tensors(sub)
        flat = _flat_tensors(obj)
        if flat:
            return flat
    raise ParseError(f"the checkpoint holds no tensors (a {type(obj).__name__})", file=str(path))


def _flat_tensors(d: dict, prefix: str = "") -> dict:
    import torch
    out = {}
    for k, v in d.items():
        if isinstance(v, torch.Tensor):
            out[prefix + str(k)] = v
        elif isinstance(v, dict):
            out.update(_flat_tensors(v, f"{prefix}{k}."))
    return out


def state_dict_graph(state: dict, name: str) -> Graph:
    """No model to run: one box per tensor, grouped by the module path in its name."""
    b = Builder(name)
    for key, tensor in state.items():
        owner, _, leaf = key.rpartition(".")
        ns = owner.replace(".", "/")
        parts = ns.split("/") if ns else []
        for i in range(1, len(parts) + 1):
            b.module("/".join(parts[:i]), "")
        w = b.weight(key, tensor, parameter=not leaf.endswith(BUFFER_SUFFIXES))
        if leaf.endswith(BUFFER_SUFFIXES):
            w.meta["constant"] = True  # statistics, not learned: not counted as parameters
        out = b.graph.value(f"{key}:out")
        out.type = TensorType(w.type.dtype, w.type.shape)
        b.graph.add_node("torch.parameter", [w], [out], name=key, namespace=ns,
                         source_op="tensor")
    b.modules = {}
    return b.finish({"format": "pytorch", "capture": "state_dict",
                     "tensors": len(state)})


def build_from_factory(spec: str, state: dict, path: Path):
    """Import 'pkg.mod:fn', call it, and load the checkpoint's tensors into the module."""
    mod_name, sep, fn_name = spec.partition(":")
    if not sep or not mod_name or not fn_name:
        raise UsageError(f"--model expects PACKAGE.MODULE:FUNCTION (got '{spec}')")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--model {spec}: {type(exc).__name__}: {_short(exc)}") from None
    module = fn()
    result = module.load_state_dict(_strip_prefix(state, module), strict=False)
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {len(result.missing_keys)} (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(f"unexpected {len(result.unexpected_keys)} "
                         f"(e.g. {result.unexpected_keys[0]})")
        raise ParseError(f"the checkpoint does not match --model {spec}: keys "
                         + ", ".join(parts), file=str(path))
    return module.eval()


def _strip_prefix(state: dict, module) -> dict:
    """'module.' (DataParallel) or 'model.' (Lightning) prefixes, when the model lacks them."""
    own = set(module.state_dict())
    for prefix in ("module.", "model."):
        if state and all(k.startswith(prefix) for k in state) and \
                not any(k.startswith(prefix) for k in own):
            return {k[len(prefix):]: v for k, v in state.items()}
    return state


def example_inputs_for(module, example_inputs, input_shapes) -> tuple:
    """The inputs to trace with: given ones, or random tensors of the --input-shape shapes
    in the order of forward()'s parameters."""
    import torch
    if example_inputs is not None:
        return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) \
            else (example_inputs,)
    if not input_shapes:
        raise UsageError("a PyTorch module needs example inputs to trace: pass "
                         "example_inputs=(...) or --input-shape NAME=D1,D2,...")
    try:
        names = [p for p in inspect.signature(module.forward).parameters
                 if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        names = list(input_shapes)
    unknown = [n for n in input_shapes if n not in names]
    if unknown:
        raise UsageError(f"--input-shape: the model has no input '{unknown[0]}' "
                         f"(forward takes: {', '.join(names) or 'nothing'})")
    # a model that starts with an embedding reads token ids, not floats
    first = next((m for m in module.modules() if not list(m.children())), None)
    tokens = type(first).__name__ == "Embedding"
    inputs = []
    for n in names:
        if n not in input_shapes:
            break
        shape = input_shapes[n]
        if not all(isinstance(d, int) for d in shape):
            raise UsageError(f"--input-shape {n}: give every dimension as a number for "
                             f"tracing (use dynamic_shapes= for symbolic sizes)")
        inputs.append(torch.zeros(*shape, dtype=torch.long) if tokens else torch.randn(*shape))
    return tuple(inputs)
