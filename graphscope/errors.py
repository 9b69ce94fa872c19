"""Every failure a user can cause is a GraphscopeError; the CLI prints it in one line."""
from __future__ import annotations


class GraphscopeError(Exception):
    """Base for user-facing errors. ``exit_code`` 2 means bad input or usage."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 col: int | None = None, node: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.col = col
        self.node = node

    def location(self) -> str:
        """``file:line:col`` (as much of it as is known), or '' when nothing is."""
        parts = []
        if self.file is not None:
            parts.append(self.file)
            if self.line is not None:
                parts.append(str(self.line))
                if self.col is not None:
                    parts.append(str(self.col))
        elif self.line is not None:
            parts.append(f"line {self.line}" + (f":{self.col}" if self.col is not None else ""))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        what = self.message if self.node is None else f"node '{self.node}': {self.message}"
        return f"{where}: {what}" if where else what


class ParseError(GraphscopeError):
    """The file could not be read as the format it claims to be."""


class GraphError(GraphscopeError):
    """The graph is malformed: a cycle, a dangling input, a duplicate name."""


class ShapeError(GraphscopeError):
    """Shapes that cannot go together (e.g. Concat of mismatched dims)."""


class UnsupportedError(GraphscopeError):
    """A format, op or option that graphscope does not handle."""


class MissingDependencyError(GraphscopeError):
    """An optional extra (torch, tensorflow, graphviz...) is needed and absent."""


class UsageError(GraphscopeError):
    """The command line or an API call was used wrongly."""


class BackendError(GraphscopeError):
    """An op failed inside an execution backend (torch, TensorFlow): an internal fault,
    reported with the node and op instead of the framework's raw exception."""

    exit_code = 1


class UnsafeModelError(GraphscopeError):
    """Loading would execute code from the model file; needs ``trust=True``."""


def require(module: str, extra: str, feature: str):
    """Import ``module`` lazily, or raise a MissingDependencyError naming the fix."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the '{module}' package ({exc.__class__.__name__}: {exc}); "
            f"install it with: pip install -e '.[{extra}]'") from None
