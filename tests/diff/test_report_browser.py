"""The diff report in real Chromium from file://, offline, through window.graphscope."""
from __future__ import annotations

import pytest

import graphscope
from tests.browser import MARKS, browser, offline_context  # noqa: F401 (the fixture)
from tests.zoo import diff_models as dm
from tests.zoo import onnx_models

pytestmark = MARKS


@pytest.fixture(scope="module")
def page(tmp_path_factory, browser):  # noqa: F811
    m = onnx_models.small_resnet()
    b = dm.block_inserted(dm.kernel_changed(m, "/stem/conv/Conv", 5, 0),
                          "/layer1/0/relu_1/Relu", 16)
    path = tmp_path_factory.mktemp("diff") / "report.html"
    result = graphscope.diff(m, b)
    result.render_html(path)
    context, requests = offline_context(browser, 1400, 900)
    errors = []
    pg = context.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    pg.goto(path.as_uri())
    pg.evaluate("window.graphscope.ready")
    yield pg, result, requests, errors
    context.close()


def test_offline_two_panes_and_summary(page):
    pg, result, requests, errors = page
    assert requests == [] and errors == []
    assert pg.evaluate("window.graphscope.summary()") == result.summary
    assert pg.evaluate("document.querySelectorAll('.gs-root').length") == 2
    shown_b = pg.evaluate("window.graphscope.b.visibleNodes()")
    assert "/extra/conv/Conv" in shown_b  # the inserted block is drawn in B's pane
    rows = pg.evaluate("window.graphscope.rows()")
    assert [r["b"] for r in rows if r["status"] == "only_b"] == [[n] for n in dm.BLOCK]
    assert sum(r["status"] == "shapes" for r in rows) == result.summary["shapes"] == 12


def test_selection_follows_and_boxes_are_coloured(page):
    pg, result, _, _ = page
    sel = pg.evaluate("window.graphscope.select('a', '/stem/conv/Conv')"
                      ".then(() => window.graphscope.selected())")
    assert sel == {"a": "/stem/conv/Conv", "b": "/stem/conv/Conv"}
    assert pg.evaluate("window.graphscope.boxClasses('a', '/stem/conv/Conv')") == ["gsd-changed"]
    assert pg.evaluate("window.graphscope.boxClasses('b', '/stem/bn/BatchNormalization')") == \
        ["gsd-shapes"]
    # a collapsed namespace takes its members' strongest status
    assert pg.evaluate("window.graphscope.a.visibleNodes()").count("layer2/0") == 1
    assert pg.evaluate("window.graphscope.boxClasses('a', 'layer2/0')") == ["gsd-shapes"]
    assert pg.evaluate("window.graphscope.boxClasses('a', 'layer3/0')") == []
    # a row of the table selects both sides' nodes
    rows = pg.evaluate("window.graphscope.rows()")
    i = next(k for k, r in enumerate(rows) if r["a"] == ["/layer1/0/conv1/Conv"])
    sel = pg.evaluate(f"window.graphscope.selectRow({i}).then(() => window.graphscope.selected())")
    assert sel == {"a": "/layer1/0/conv1/Conv", "b": "/layer1/0/conv1/Conv"}
    current = "document.querySelector('tr.gsd-current').getAttribute('data-row')"
    assert pg.evaluate(current) == str(i)
    # a node only in B: selected alone, drawn as only-in-B
    j = next(k for k, r in enumerate(rows) if r["b"] == ["/extra/relu/Relu"])
    sel = pg.evaluate(f"window.graphscope.selectRow({j}).then(() => window.graphscope.selected())")
    assert sel["b"] == "/extra/relu/Relu"
    assert pg.evaluate("window.graphscope.boxClasses('b', '/extra/conv/Conv')") == ["gsd-only_b"]


def test_pan_and_zoom_follow_the_other_pane(page):
    pg, _, _, _ = page
    before = pg.evaluate("[window.graphscope.transform('a'), window.graphscope.transform('b')]")
    after = pg.evaluate("window.graphscope.zoom('a', 1.25).then(() => "
                        "[window.graphscope.transform('a'), window.graphscope.transform('b')])")
    assert after[0]["scale"] == pytest.approx(before[0]["scale"] * 1.25)
    assert after[1]["scale"] == pytest.approx(before[1]["scale"] * 1.25)
    # and the other way, B driving A
    again = pg.evaluate("window.graphscope.zoom('b', 0.8).then(() => "
                        "[window.graphscope.transform('a'), window.graphscope.transform('b')])")
    assert again[0]["scale"] == pytest.approx(after[0]["scale"] * 0.8)
    # switched off: B stays put
    pg.evaluate("document.querySelector('.gsd-sync').click()")
    off = pg.evaluate("window.graphscope.zoom('a', 1.25).then(() => "
                      "[window.graphscope.transform('a'), window.graphscope.transform('b')])")
    assert off[1]["scale"] == pytest.approx(again[1]["scale"])
    assert off[0]["scale"] == pytest.approx(again[0]["scale"] * 1.25)
