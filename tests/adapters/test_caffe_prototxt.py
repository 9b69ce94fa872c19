"""The protobuf text-format reader: syntax, numbers, strings, locations, and a fuzz test that
mutates real prototxts and accepts no exception other than ParseError (or a clean
GraphscopeError from the layers)."""
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import graphscope
from graphscope.adapters.caffe.prototxt import Enum, parse
from graphscope.errors import ParseError
from tests.conftest import CORPUS


def test_nested_repeated_comments_and_lists():
    m = parse('''# a comment
name: "net"  # trailing comment
layer { name: 'a' top: "x" top: "y"; param < lr_mult: 1 >, }
layer: { kernel_size: [3, 5] }
''')
    assert m.get("name") == "net"
    a, b = m.all("layer")
    assert a.all("top") == ["x", "y"] and a.get("param").get("lr_mult") == 1
    assert b.all("kernel_size") == [3, 5]
    assert a.where("top") == (3, 19)
    assert a.to_dict() == {"name": "a", "top": ["x", "y"], "param": {"lr_mult": 1}}


@pytest.mark.parametrize("text,value", [
    ("1", 1), ("-7", -7), ("0x1F", 31), ("017", 15), ("1e-4", 1e-4), ("1.5f", 1.5),
    (".5", 0.5), ("2.", 2.0), ("-inf", -math.inf), ("true", True), ("false", False),
    ("MAX", "MAX"), ("+3", 3), ("1E3", 1000.0),
])
def test_numbers_in_every_notation(text, value):
    v = parse(f"x: {text}").get("x")
    assert v == value and type(v) is type(value) or isinstance(v, Enum)


def test_nan_and_enums():
    assert math.isnan(parse("x: nan").get("x"))
    assert isinstance(parse("pool: AVE").get("pool"), Enum)


def test_string_escapes_and_concatenation():
    m = parse(r'''s: "a\n\t\"q\"\\" 'b\x41\101' "c"''')
    assert m.get("s") == 'a\n\t"q"\\bAAc'


@pytest.mark.parametrize("text,where,what", [
    ("a { b: 1", (1, 1), "never closed"),
    ("a: 1 }", (1, 6), "unexpected '}'"),
    ("a: 08", (1, 4), "octal"),
    ("a: 1.2.3", (1, 4), "bad number"),
    ('a: "x', (1, 4), "unterminated string"),
    ('a: "\\z"', (1, 5), "bad string escape"),
    ("a: @", (1, 4), "unexpected character"),
    ("a:", (1, 3), "value is missing"),
    ("a: [1, 2", (1, 1), "unterminated"),
    ("1: 2", (1, 1), "expected a field name"),
])
def test_errors_carry_line_and_column(text, where, what):
    with pytest.raises(ParseError, match=what) as e:
        parse("\n" + text, "f.prototxt")
    assert (e.value.line, e.value.col) == (where[0] + 1, where[1])
    assert str(e.value).startswith(f"f.prototxt:{where[0] + 1}:{where[1]}: ")


SEEDS = [p.read_text() for p in sorted((CORPUS / "caffe" / "bvlc").glob("*deploy.prototxt"))[:4]]
SEEDS += [(CORPUS / "caffe" / "bvlc" / "mnist__lenet_train_test.prototxt").read_text()]
TOKENS = ["{", "}", ":", '"', "'", "layer", "top:", 'bottom: "x"', "1e", "0x", "-", "[", "]",
          "\\", "#", "<", "\n", "kernel_size: 0", "stride: 0", "num_output: -1", "group: 3",
          "axis: 9", "pool: AVE", "inf", "pad: 99"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        tok = draw(st.sampled_from(TOKENS))
        j = min(len(text), i + draw(st.integers(1, 40)))
        if kind == "insert":
            text = text[:i] + tok + text[i:]
        elif kind == "delete":
            text = text[:i] + text[j:]
        else:
            text = text[:i] + tok + text[j:]
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_prototxts_fail_only_cleanly(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("fuzz") / "m.prototxt"
    p.write_text(text)
    try:
        graphscope.load(p)
    except ParseError as exc:
        assert exc.file == str(p)
