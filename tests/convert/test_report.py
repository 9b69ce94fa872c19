"""The conversion report (`convert --verify --report`): real Graphviz, real Chromium, offline."""
import html
import re
import shutil

import pytest
import torch

import graphscope
from graphscope.convert.api import verify_conversion
from graphscope.convert.report import node_states, report_html
from graphscope.convert.verify import HINTS, LayerDiff, VerifyReport
from tests.conftest import needs_dot
from tests.renderers.test_html_browser import CHROMIUM, Page
from tests.renderers.test_html_browser import browser as _browser
from tests.zoo import html_models, onnx_models

FIRST = "/layer2/0/conv2/Conv"
NODE_TAG = re.compile(r'<g id="([st])-n:[^"]*" class="node ([\w-]+)" data-node="([^"]*)">')

pytestmark = needs_dot
browser = _browser  # the HTML viewer tests' Chromium fixture, shared


def in_browser(test):
    return pytest.mark.browser(pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason="no /usr/bin/chromium")(test))


@pytest.fixture(scope="module")
def reports():
    """small_resnet, its verified PyTorch conversion, and the report after one conv's weights
    are scaled by 1.01."""
    graph = graphscope.load(onnx_models.small_resnet())
    module = graphscope.convert(graph, to="pytorch")
    passing = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    with torch.no_grad():
        getattr(module, module._names[f"{FIRST}.weight"]).mul_(1.01)
    failing = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    assert passing.ok and failing.first_divergence.node == FIRST
    return graph, passing, failing


def tagged(page_html):
    """{'s' | 't': {node name: state}} from the annotated SVGs."""
    out = {"s": {}, "t": {}}
    for side, state, name in NODE_TAG.findall(page_html):
        out[side][html.unescape(name)] = state
    return out


def open_report(browser, tmp_path, text, name="conv.html"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Page(browser, path, hook=False)


def dom_states(p, side):
    return p.js("side => Object.fromEntries([...document.querySelectorAll("
                "`#${side}-pane g.node[data-node]`)].map(g => [g.dataset.node, "
                "[...g.classList].filter(c => c !== 'node' && c !== 'selected')[0]]))", side)


def selected(p):
    return p.js("() => [...document.querySelectorAll('.selected')].map(el => "
                "[el.closest('section') ? el.closest('section').dataset.side : 'table', "
                "el.dataset.node])")


@in_browser
def test_failing_report_marks_first_divergence_in_both_graphs(browser, tmp_path,
                                                              reports):
    graph, _, report = reports
    p = open_report(browser, tmp_path, report_html(graph, graph, report, target_format="pytorch"))
    try:
        assert p.js("() => ['source', 'target'].map(s => "
                    "document.querySelectorAll(`#${s}-pane .scroll > svg`).length)") == [1, 1]
        names = [n.name for n in graph.nodes]
        before = names[:names.index(FIRST)]
        assert before and len(before) >= 10
        for side in ("source", "target"):
            states = dom_states(p, side)
            assert set(states) == set(names)
            assert states[FIRST] == "first-divergence"
            assert [n for n in states if states[n] == "first-divergence"] == [FIRST]
            assert all(states[n] == "agree" for n in before)
            assert "diverged" in states.values()
            # the CSS really recolours the node: red fill, thick outline
            style = p.js("([side, name]) => { const g = [...document.querySelectorAll("
                         "`#${side}-pane g.node[data-node]`)].find(g => g.dataset.node === name);"
                         " const s = getComputedStyle(g.querySelector('path, polygon'));"
                         " return [s.fill, s.strokeWidth]; }", [side, FIRST])
            assert style == ["rgb(229, 57, 53)", "4px"]

        rows = p.page.locator("#layers tbody tr")
        assert rows.count() == len(report.layers)
        assert p.js("() => [...document.querySelectorAll('#layers tbody tr.first-divergence')]"
                    ".map(r => r.dataset.node)") == [FIRST]
        n_bad = sum(not d.ok for d in report.layers)
        assert p.page.locator("#layers tbody tr.diverged").count() == n_bad - 1
        verdict = p.page.inner_text("#verdict")
        assert f"first divergence: {FIRST} (Conv)" in verdict
        assert HINTS["Conv"] in verdict

        # a row selects its node in both graphs and scrolls each pane to it
        i = next(i for i, d in enumerate(report.layers) if d.node == "/head/fc/Gemm")
        rows.nth(i).click()
        assert sorted(selected(p)) == [["source", "/head/fc/Gemm"], ["table", "/head/fc/Gemm"],
                                       ["target", "/head/fc/Gemm"]]
        assert p.js("() => [...document.querySelectorAll('g.node.selected')].every(g => {"
                    " const a = g.closest('.scroll').getBoundingClientRect(),"
                    " b = g.getBoundingClientRect();"
                    " return b.top >= a.top && b.bottom <= a.bottom; })")
        # the verdict's link selects the first divergence; the old selection goes
        p.page.click("#show-first")
        assert sorted(selected(p)) == [["source", FIRST], ["table", FIRST], ["target", FIRST]]
        # and a node in either graph selects its row
        p.page.locator('#target-pane g.node[data-node="/stem/pool/MaxPool"]').click()
        assert sorted(selected(p)) == [["source", "/stem/pool/MaxPool"],
                                       ["table", "/stem/pool/MaxPool"],
                                       ["target", "/stem/pool/MaxPool"]]
        assert p.requests == [] and p.errors == [] and p.dialogs == []
    finally:
        p.close()


@in_browser
def test_passing_report_says_agree_and_marks_nothing_red(browser, tmp_path,
                                                         reports):
    graph, report, _ = reports
    p = open_report(browser, tmp_path, report_html(graph, graph, report))
    try:
        verdict = p.page.inner_text("#verdict")
        assert f"all {len(report.layers)} compared values agree" in verdict
        for side in ("source", "target"):
            assert set(dom_states(p, side).values()) == {"agree"}
        assert p.page.locator("g.node.diverged, g.node.first-divergence, tr.diverged, "
                              "tr.first-divergence").count() == 0
        assert p.page.locator("#show-first").count() == 0
        assert p.page.locator("#layers tbody tr").count() == len(report.layers)
        assert p.requests == [] and p.errors == []
    finally:
        p.close()


@in_browser
def test_hostile_names_are_escaped(browser, tmp_path):
    graph = graphscope.load(html_models.hostile())
    layers = [LayerDiff(v.name, n.name, n.op, 0.5, 0.5, i == 0)
              for i, n in enumerate(graph.nodes) for v in n.outputs]
    report = VerifyReport(layers, 1e-4, 1e-5, 1, missing=['<b>"gone"</b> & co'])
    text = report_html(graph, graph, report, title=html_models.SCRIPT)
    assert html_models.IMG not in text and html_models.SCRIPT not in text
    p = open_report(browser, tmp_path, text)
    try:
        assert p.dialogs == [] and p.errors == [] and p.requests == []
        assert p.page.title() == html_models.SCRIPT
        names = [n.name for n in graph.nodes]
        assert dom_states(p, "source") == {names[0]: "agree", names[1]: "first-divergence",
                                           names[2]: "diverged"}
        assert f"first divergence: {names[1]} (Sigmoid)" in p.page.inner_text("#verdict")
        p.page.locator("#layers tbody tr").nth(2).click()
        assert sorted(selected(p)) == [["source", names[2]], ["table", names[2]],
                                       ["target", names[2]]]
    finally:
        p.close()


def test_onnx_target_is_matched_by_value_name(reports):
    graph, _, report = reports
    target = graphscope.load(graphscope.convert(graph, to="onnx"))
    for n in target.nodes:  # the target's own node names need not match the source's
        n.name = "onnx::" + n.name
    text = report_html(graph, target, report, target_path="model.onnx")
    states = tagged(text)
    assert states["s"] == node_states(graph, report)
    assert states["t"] == {"onnx::" + k: v for k, v in states["s"].items()}
    assert states["t"]["onnx::" + FIRST] == "first-divergence"
    row = re.search(r"<tr class='first-divergence'[^>]*>", text).group(0)
    assert f"data-node='{FIRST}'" in row and f"data-target='onnx::{FIRST}'" in row
    assert "model.onnx" in text


def test_uncompared_nodes_are_grey(reports):
    graph, _, report = reports
    partial = VerifyReport([d for d in report.layers if d.node.startswith("/stem")],
                           report.rtol, report.atol, 0)
    states = tagged(report_html(graph, graph, partial))["s"]
    assert {states[n.name] for n in graph.nodes if n.name.startswith("/stem")} == {"agree"}
    assert {states[n.name] for n in graph.nodes
            if not n.name.startswith("/stem")} == {"not-compared"}


def test_large_graph_keeps_the_table_but_not_the_picture():
    graph = graphscope.load(onnx_models.chain(810))
    assert len(graph.nodes) > 800
    layers = [LayerDiff(v.name, n.name, n.op, 0.0, 0.0, True)
              for n in graph.nodes for v in n.outputs]
    text = report_html(graph, graph, VerifyReport(layers, 1e-4, 1e-5, 1))
    assert "<svg" not in text
    assert text.count("not drawn: 810 nodes is more than 800") == 2
    assert text.count("<tr class='agree'") == len(layers)


def test_output_is_deterministic_and_offline(reports):
    graph, _, report = reports
    a = report_html(graph, graph, report)
    assert a == report_html(graph, graph, report)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", a)
    assert "Content-Security-Policy" in a
