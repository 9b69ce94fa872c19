"""Protocol Buffers text format, read without a .proto: messages become ``Message`` objects.

Comments, strings with C escapes (adjacent strings join), repeated fields, nested messages
(``{}`` or ``<>``), ``[a, b]`` lists, numbers in every notation (hex, octal, 1e-4, 1.5f, inf,
nan) and enum identifiers. Every field remembers where it was written, so errors and
warnings carry line and column.
"""
from __future__ import annotations

import bisect
import re

from ...errors import ParseError

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n\f\v]+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<word>[A-Za-z0-9_.+\-]+)
  | (?P<punct>[{}<>\[\]:,;])
  | (?P<bad>["'].*|.)
""", re.VERBOSE)

_NUMBER = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]+|(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)"
                     r"(?:[eE][-+]?[0-9]+)?[fF]?|inf(?:inity)?|nan)$", re.IGNORECASE)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "?": "?"}


class Enum(str):
    """An enum identifier (MAX, TEST, CONVOLUTION): a str that remembers it was bare."""


class Message:
    """Fields in file order: ``fields`` is a list of (name, value, pos)."""

    __slots__ = ("fields", "pos", "source")

    def __init__(self, pos: int = 0, source: "Source | None" = None):
        self.fields: list[tuple[str, object, int]] = []
        self.pos = pos
        self.source = source

    def get(self, name: str, default=None):
        """The last value of ``name`` (protobuf's rule for a repeated singular field)."""
        for n, v, _ in reversed(self.fields):
            if n == name:
                return v
        return default

    def all(self, name: str) -> list:
        return [v for n, v, _ in self.fields if n == name]

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.fields)

    def where(self, name: str | None = None) -> tuple[int, int]:
        """(line, col) of the field ``name`` (first occurrence), or of this message."""
        pos = self.pos
        if name is not None:
            pos = next((p for n, _, p in self.fields if n == name), pos)
        return self.source.line_col(pos) if self.source else (None, None)

    def names(self) -> list[str]:
        return [n for n, _, _ in self.fields]

    def to_dict(self) -> dict:
        """Plain data (repeated fields as lists) for attributes and tooltips."""
        out: dict = {}
        repeated: set[str] = set()
        for n, v, _ in self.fields:
            v = v.to_dict() if isinstance(v, Message) else v
            if n not in out:
                out[n] = v
                continue
            if n not in repeated:
                out[n] = [out[n]]
                repeated.add(n)
            out[n].append(v)
        return out


class Source:
    """The text and its file name, with offset -> (line, col) by bisecting line starts."""

    def __init__(self, text: str, file: str | None):
        self.text = text
        self.file = file
        self._starts: list[int] | None = None

    def line_col(self, pos: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_right(self._starts, pos) - 1
        return i + 1, pos - self._starts[i] + 1

    def error(self, message: str, pos: int) -> ParseError:
        line, col = self.line_col(pos)
        return ParseError(message, file=self.file, line=line, col=col)


def parse(text: str, file: str | None = None) -> Message:
    """Parse a whole text-format message."""
    src = Source(text, file)
    tokens = [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(text)
              if m.lastgroup != "ws"]
    tokens.append(("eof", "", len(text)))
    root = Message(0, src)
    stack = [(root, None)]  # (message, closing bracket)
    i = 0
    while True:
        kind, tok, pos = tokens[i]
        msg, close = stack[-1]
        if kind == "eof":
            if close is not None:
                name = next((n for n, v, _ in stack[-2][0].fields if v is msg), "?")
                raise src.error(f"unbalanced braces: the '{_OPEN[close]}' of '{name}' here is "
                                f"never closed", msg.pos)
            return root
        if kind == "punct" and tok in "}>":
            if close != tok:
                raise src.error(f"unbalanced braces: unexpected '{tok}'", pos)
            stack.pop()
            i += 1
            if tokens[i][1] in (",", ";"):
                i += 1
            continue
        if kind == "bad":
            raise src.error(_bad_message(tok), pos)
        if kind != "word" or not _IDENT.match(tok):
            raise src.error(f"expected a field name, found '{tok}'", pos)
        name = tok
        i += 1
        kind, tok, vpos = tokens[i]
        if tok == ":":
            i += 1
            kind, tok, vpos = tokens[i]
        if tok in ("{", "<"):
            child = Message(pos, src)
            msg.fields.append((name, child, pos))
            stack.append((child, "}" if tok == "{" else ">"))
            i += 1
            continue
        if tok == "[":
            i += 1
            while tokens[i][1] != "]":
                kind, tok, vpos = tokens[i]
                if kind == "eof":
                    raise src.error("unterminated '[' list", pos)
                value, i = _scalar(src, tokens, i)
                msg.fields.append((name, value, pos))
                if tokens[i][1] == ",":
                    i += 1
            i += 1
        else:
            value, i = _scalar(src, tokens, i)
            msg.fields.append((name, value, pos))
        if tokens[i][1] in (",", ";"):
            i += 1


_OPEN = {"}": "{", ">": "<"}


def _bad_message(tok: str) -> str:
    if tok[:1] in "\"'":
        return "unterminated string (a string must close on the line it opens)"
    return f"unexpected character '{tok}'"


def _scalar(src: Source, tokens, i: int):
    kind, tok, pos = tokens[i]
    if kind == "str":
        parts = []
        while tokens[i][0] == "str":
            parts.append(_unescape(src, tokens[i][1], tokens[i][2]))
            i += 1
        return "".join(parts), i
    if kind == "word":
        return _word(src, tok, pos), i + 1
    if kind == "bad":
        raise src.error(_bad_message(tok), pos)
    if kind == "eof":
        raise src.error("unexpected end of file: a value is missing", pos)
    raise src.error(f"expected a value, found '{tok}'", pos)


def _word(src: Source, tok: str, pos: int):
    """A number, true/false, or an enum identifier."""
    if tok in ("true", "True", "t"):
        return True
    if tok in ("false", "False", "f"):
        return False
    if _IDENT.match(tok) and tok.lower() not in ("inf", "infinity", "nan"):
        return Enum(tok)
    if not _NUMBER.match(tok):
        raise src.error(f"bad number '{tok}'", pos)
    body = tok.lstrip("+-")
    sign = -1 if tok.startswith("-") else 1
    low = body.lower()
    if low.startswith("0x"):
        return sign * int(body, 16)
    if body.isdigit():
        if len(body) > 1 and body[0] == "0":
            if any(c in "89" for c in body):
                raise src.error(f"bad number '{tok}' (octal digits are 0-7)", pos)
            return sign * int(body, 8)
        return sign * int(body)
    return sign * float(low.rstrip("f") if not low.startswith(("inf", "nan")) else low)


def _unescape(src: Source, tok: str, pos: int) -> str:
    body = tok[1:-1]
    if "\\" not in body:
        return body
    out, j = [], 0
    while j < len(body):
        c = body[j]
        if c != "\\":
            out.append(c)
            j += 1
            continue
        e = body[j + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            j += 2
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[j + 2:])
            if not m:
                raise src.error("bad string escape '\\x' (needs hex digits)", pos + j + 1)
            out.append(chr(int(m.group(), 16)))
            j += 2 + m.end()
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[j + 1:])
            out.append(chr(int(m.group(), 8)))
            j += 1 + m.end()
        else:
            raise src.error(f"bad string escape '\\{e}'", pos + j + 1)
    return "".join(out)


def to_text(msg: Message, indent: str = "") -> str:
    """A message back as text format (enums bare, strings quoted), e.g. to hand a cleaned-up
    net to another reader."""
    lines = []
    for name, value, _ in msg.fields:
        if isinstance(value, Message):
            lines.append(f"{indent}{name} {{")
            lines.append(to_text(value, indent + "  "))
            lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{name}: {_scalar_text(value)}")
    return "\n".join(line for line in lines if line)


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, float) and value != value:
        return "nan"
    return repr(value) if isinstance(value, float) else str(value)
