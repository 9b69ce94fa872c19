"""The HTML viewer in real Chromium (Debian's /usr/bin/chromium through Playwright), offline."""
import json
import time
import xml.etree.ElementTree as ET

import pytest

import graphscope
from graphscope.ir.grouping import build_view
from graphscope.renderers.html import auto_depth
from graphscope.renderers.labels import fmt_value
from tests.browser import CHROMIUM, MARKS, browser, offline_context  # noqa: F401 (a fixture)
from tests.zoo import html_models, onnx_models

pytestmark = MARKS


class Page:
    """A page that may load file:// only; records every other request, dialogs and errors."""

    def __init__(self, browser, path, hook=True):
        self.context, self.requests = offline_context(browser)
        self.dialogs, self.errors = [], []
        self.page = self.context.new_page()
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())
        if hook:
            self.page.evaluate("window.graphscope.ready")

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def box_center(self, box_id):
        r = self.js("id => document.querySelector(`[data-id=\"${CSS.escape(id)}\"]`)"
                    ".getBoundingClientRect().toJSON()", box_id)
        return r["x"] + r["width"] / 2, r["y"] + r["height"] / 2

    def wait_until(self, expr, timeout=10.0):
        """Poll a JS expression (wait_for_function evaluates strings, which the page's CSP
        forbids)."""
        end = time.monotonic() + timeout
        while not self.js(expr):
            assert time.monotonic() < end, f"timed out waiting for {expr}"
            self.page.wait_for_timeout(50)

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    graph = graphscope.load(onnx_models.small_resnet())
    path = tmp_path_factory.mktemp("html") / "resnet.html"
    graph.render(path)
    return graph, path


@pytest.fixture
def page(browser, resnet):
    p = Page(browser, resnet[1])
    yield p
    assert p.requests == [] and p.errors == [] and p.dialogs == []
    p.close()


def expected_visible(graph, depth):
    """What ir.grouping draws at this depth: node names, and namespaces for groups."""
    view = build_view(graph, depth)
    return [b.node.name if b.kind == "node" else b.namespace
            for b in view.boxes if b.kind in ("node", "group")]


def test_starts_collapsed_then_expands_and_collapses(page, resnet):
    graph, _ = resnet
    depth = auto_depth(graph)
    first = page.js("window.graphscope.visibleNodes()")
    assert first == expected_visible(graph, depth)
    assert "layer2/0" in first and len(first) < len(graph.nodes)
    stem = page.box_center("n:/stem/conv/Conv")
    group = page.box_center("g:layer2/0")
    page.js("window.graphscope.expand('layer2/0')")
    after = page.js("window.graphscope.visibleNodes()")
    # the group opens one level: its sub-namespaces of several ops stay groups
    inside = [b for b in expected_visible(graph, 2) if b.lstrip("/").startswith("layer2/0/")]
    assert "layer2/0/downsample" in inside and "/layer2/0/conv1/Conv" in inside
    assert set(inside) <= set(after) and "layer2/0" not in after
    assert len(after) == len(first) - 1 + len(inside)
    # stable re-layout: what came before the group stays put, the group's content starts there
    stem2 = page.box_center("n:/stem/conv/Conv")
    assert abs(stem2[0] - stem[0]) < 60 and abs(stem2[1] - stem[1]) < 60
    top = min(page.box_center(("g:" if n[0] != "/" else "n:") + n)[1] for n in inside)
    assert abs(top - group[1]) < 80
    page.js("window.graphscope.collapse('layer2/0')")
    assert page.js("window.graphscope.visibleNodes()") == first
    page.js("window.graphscope.collapse('layer2')")
    assert page.js("window.graphscope.visibleNodes()") == [
        "layer2" if n == "layer2/0" else n for n in first]


def test_search_finds_every_conv(page, resnet):
    graph, _ = resnet
    found = page.js("window.graphscope.search('conv')")
    convs = [n.name for n in graph.nodes if n.op == "Conv"]
    assert len(convs) == 11 and set(convs) <= set(found)
    assert all("conv" in (n + graph.node(n).op).lower() for n in found)
    assert page.js("document.querySelector('.gs-count').textContent") == f"{len(found)} found"
    # a match hidden in a collapsed group marks the group
    assert page.js("document.querySelector('[data-id=\"g:layer2/0\"]')"
                   ".classList.contains('gs-match')")
    assert page.js("window.graphscope.search('kernel_shape=[1, 1]')") == [
        n.name for n in graph.nodes if n.attrs.get("kernel_shape") == [1, 1]]


def test_select_shows_attributes_shapes_and_stats(page, resnet):
    graph, _ = resnet
    node = graph.node("/layer2/0/conv1/Conv")
    page.js("name => window.graphscope.select(name)", node.name)
    side = page.page.locator(".gs-side")
    assert side.is_visible()
    assert side.locator("h3").inner_text() == node.name
    attrs = side.locator("table.gs-attrs tr").all_inner_texts()
    expected = [[k, fmt_value(v)] for k, v in sorted(node.attrs.items())]
    assert [a.split("\t") for a in attrs] == expected
    outs = side.locator("table.gs-outputs").inner_text()
    assert node.outputs[0].type.shape_str() in outs
    cost = side.locator("table.gs-cost").inner_text()
    assert f"{node.meta['params']:,}" in cost and f"{node.meta['macs']:,}" in cost
    weights = side.locator("table.gs-weights").inner_text()
    w = node.inputs[1].data.array
    assert "x".join(map(str, w.shape)) in weights and f"{float(w.max()):.4g}" in weights
    # selecting a node inside a collapsed group opened the group
    assert node.name in page.js("window.graphscope.visibleNodes()")


def test_real_click_on_group_expands_it(page, resnet):
    graph, _ = resnet
    x, y = page.box_center("g:layer3/1")
    page.page.mouse.click(x, y)
    page.wait_until("window.graphscope.visibleNodes().includes('/layer3/1/conv1/Conv') && "
                    "!window.graphscope.viewer.animating")
    assert "layer3/1" not in page.js("window.graphscope.visibleNodes()")
    # clicking the label of the frame drawn around it collapses it again
    label = page.page.locator(".gs-frame text", has_text="\u25be layer3/1").first
    label.click()
    page.wait_until("window.graphscope.visibleNodes().includes('layer3/1') && "
                    "!window.graphscope.viewer.animating")
    page.js("window.graphscope.expand('layer3/1')")
    # clicking a node opens the panel
    page.page.locator(".gs-root").focus()
    for _ in range(4):  # pan with the keyboard until the node is well inside the window
        if page.box_center("n:/layer3/1/conv2/Conv")[1] < 600:
            break
        page.page.keyboard.press("ArrowDown")
        page.page.wait_for_timeout(50)
    x, y = page.box_center("n:/layer3/1/conv2/Conv")
    assert 0 < x < 1200 and 0 < y < 800, (x, y)
    page.page.mouse.click(x, y)
    page.wait_until("document.querySelector('.gs-side h3')?.textContent === "
                    "'/layer3/1/conv2/Conv'")


def test_export_svg_and_layer_table(page, resnet):
    graph, _ = resnet
    svg = page.js("window.graphscope.viewer.exportSvg()")
    root = ET.fromstring(svg)
    groups = root.findall("{http://www.w3.org/2000/svg}g")
    visible = page.js("window.graphscope.visibleNodes()")
    assert len(groups) == len(visible) + len(graph.inputs) + len(graph.outputs)
    for button, magic in (("SVG", b"<svg"), ("PNG", b"\x89PNG")):  # downloads from the page
        with page.page.expect_download() as dl:
            page.page.get_by_role("button", name=button, exact=True).click()
        assert dl.value.suggested_filename == f"small_resnet.{button.lower()}"
        with open(dl.value.path(), "rb") as f:
            assert f.read(200).removeprefix(b"<?xml version=\"1.0\"?>").lstrip().startswith(magic)
    page.page.get_by_role("button", name="Table").click()
    rows = page.page.locator(".gs-table tr[data-node]")
    assert rows.count() == len(graph.nodes)
    top = max(graph.nodes, key=lambda n: n.meta["params"])
    assert rows.first.locator("td").nth(1).inner_text() == top.name
    page.page.locator(".gs-table th", has_text="MACs").click()
    top = max(graph.nodes, key=lambda n: n.meta["macs"])
    assert rows.first.locator("td").nth(1).inner_text() == top.name


def test_hostile_names_stay_text(browser, tmp_path):
    graph = graphscope.load(html_models.hostile())
    path = tmp_path / "x.html"
    graph.render(path)
    p = Page(browser, path)
    names = [n.name for n in graph.nodes]
    visible = p.js("window.graphscope.visibleNodes()")
    assert html_models.IMG in visible
    p.js("name => window.graphscope.select(name)", html_models.IMG)
    assert p.js("document.querySelector('.gs-doc').textContent") == "doc" + (
        html_models.SCRIPT + html_models.IMG)
    p.js("name => window.graphscope.select(name)", names[1])
    assert html_models.IMG in p.js("document.querySelector('.gs-attrs').textContent")
    assert p.js("document.querySelectorAll('img').length") == 0
    assert p.js("document.querySelectorAll('script').length") == 2
    assert p.js("document.title").startswith(html_models.SCRIPT)
    assert p.dialogs == [] and p.errors == [] and p.requests == []
    p.close()


def test_rankdir_and_embedded_fragments(browser, tmp_path):
    graph = graphscope.load(onnx_models.lenet())
    page = tmp_path / "host.html"
    a = graph.render("html", rankdir="LR", embed=True, depth=None)
    b = graph.render("html", embed=True, height="300px")
    page.write_text(f"<!DOCTYPE html><html><body><h1>two</h1>{a}<p>text</p>{b}</body></html>")
    p = Page(browser, page)
    p.js("Promise.all([...document.querySelectorAll('.gs-root')].map(r => r.graphscope.ready))")
    first, last = graph.nodes[0].name, graph.nodes[1].name
    xs = p.js("""([a, b]) => [...document.querySelectorAll('.gs-root')].map(r => {
        const c = id => r.querySelector(`[data-id="n:${id}"]`).getBoundingClientRect();
        return [c(a).x, c(b).x, c(a).y, c(b).y]; })""", [first, last])
    assert xs[0][1] > xs[0][0] and abs(xs[0][3] - xs[0][2]) < 300   # LR: flows right
    assert xs[1][3] > xs[1][2]                                      # TB: flows down
    assert p.js("document.querySelectorAll('.gs-root').length") == 2
    assert p.js("window.graphscope === document.querySelector('.gs-root').graphscope")
    assert p.dialogs == [] and p.errors == [] and p.requests == []
    p.close()


def test_notebook_iframe(browser, tmp_path):
    graph = graphscope.load(onnx_models.small_resnet())
    path = tmp_path / "nb.html"
    path.write_text(f"<!DOCTYPE html><html><body>{graph._repr_html_()}</body></html>")
    p = Page(browser, path, hook=False)  # the viewer is in the iframe, not the page
    frame = p.page.frame_locator("iframe")
    frame.locator(".gs-box").first.wait_for()
    inner = p.page.frames[1]
    inner.evaluate("window.graphscope.ready")
    assert inner.evaluate("window.graphscope.visibleNodes()") == expected_visible(
        graph, auto_depth(graph))
    assert p.requests == []
    p.close()


def test_big_chain_collapsed_and_expandable(browser, tmp_path):
    graph = graphscope.load(onnx_models.chain(3000))
    path = tmp_path / "chain.html"
    graph.render(path)
    p = Page(browser, path)
    first = p.js("window.graphscope.visibleNodes()")
    assert first == expected_visible(graph, auto_depth(graph))
    assert len(first) == 10  # stage0..stage9
    assert p.js("window.graphscope.viewer.worker !== null")  # laid out off the main thread
    p.js("window.graphscope.expand('stage3')")
    after = p.js("window.graphscope.visibleNodes()")
    assert len(after) == 9 + 100 and "stage3/cell0" in after
    # drawn boxes are only those near the viewport, however many are visible
    assert p.js("document.querySelectorAll('.gs-box').length") <= len(after)
    data = json.loads(p.js("document.querySelector('script.gs-data').textContent"))
    assert len(data["nodes"]) == len(graph.nodes)
    assert p.requests == [] and p.errors == []
    p.close()


def test_overview_canvas_when_zoomed_far_out(browser, tmp_path):
    graph = graphscope.load(onnx_models.chain(1500))
    path = tmp_path / "flat.html"
    graph.render(path, depth=99)  # everything expanded: 1,500 boxes
    p = Page(browser, path)
    assert len(p.js("window.graphscope.visibleNodes()")) == len(graph.nodes)
    assert p.js("document.querySelectorAll('.gs-box').length") < len(graph.nodes)  # culled
    p.js("window.graphscope.viewer.fit()")
    p.wait_until("window.graphscope.viewer.overview")
    assert p.js("getComputedStyle(document.querySelector('canvas.gs-over')).display") == "block"
    # a real click on a painted box selects its node
    x, y, name = p.js("""() => { const v = window.graphscope.viewer, i = 700,
        r = v.svg.getBoundingClientRect(), b = v.cur.view.boxes[i];
        return [r.left + v.tx + v.pos.x[i] * v.scale, r.top + v.ty + v.pos.y[i] * v.scale,
                v.D.nodes[b.ref][0]]; }""")
    p.page.mouse.click(x, y)
    p.wait_until(f"document.querySelector('.gs-side h3')?.textContent === {json.dumps(name)}")
    assert p.errors == [] and p.requests == []
    p.close()


def test_probe_statistics_in_panel(browser, tmp_path):
    graph = graphscope.load(onnx_models.small_resnet())
    result = graphscope.probe(graph, layers="/layer1/0/conv1/Conv")
    path = tmp_path / "probed.html"
    graph.render(path, probes=result)
    p = Page(browser, path)
    p.js("window.graphscope.select('/layer1/0/conv1/Conv')")
    rows = [r.split("\t") for r in p.page.locator("table.gs-probes tr").all_inner_texts()]
    stats = result.layers[0].stats
    name = result.layers[0].name
    assert [f"{name} mean", f"{stats['mean']:.4g}"] in [[a, f"{float(b):.4g}"] for a, b in rows]
    assert len(rows) == len(stats)
    p.close()


def test_probe_report_panel_shows_the_layers_feature_maps(browser, tmp_path):
    """In `graphscope probe`'s report, selecting a layer in the viewer shows its maps."""
    from graphscope.runtime.report import render_probe_report
    result = graphscope.probe(onnx_models.lenet(), layers="conv*")
    path = tmp_path / "report.html"
    path.write_text(render_probe_report(result))
    p = Page(browser, path)
    p.js("window.graphscope.select('conv2')")
    p.wait_until("document.querySelector('img.gs-maps')?.naturalWidth > 0")
    size = p.js("(() => { const i = document.querySelector('img.gs-maps');"
                " return [i.naturalWidth, i.naturalHeight, i.alt]; })()")
    assert size[2] == "feature maps of conv2_out"
    assert size[0] >= 8 * 8 and size[1] >= 8 * 7  # 50 channels of 8x8, tiled 8 wide
    assert p.errors == [] and p.requests == []
    p.close()


def test_twenty_thousand_blocks_open_as_ranges_and_search_finds_all(browser, tmp_path):
    graph = graphscope.load(onnx_models.flat_blocks(20_000))
    path = tmp_path / "blocks.html"
    graph.render(path)
    p = Page(browser, path)
    first = p.js("window.graphscope.visibleNodes()")
    assert len(first) <= 300 and "block[0-99]" in first and "block[19900-19999]" in first
    found = p.js("window.graphscope.search('Relu')")
    assert len(found) == 20_000  # every node, though its block is folded twice over
    assert p.js("window.graphscope.search('block12345/')") == ["/block12345/MatMul",
                                                               "/block12345/Relu"]
    p.js("window.graphscope.expand('block[100-199]')")
    after = p.js("window.graphscope.visibleNodes()")
    assert len(after) == len(first) - 1 + 100 and "block[100-199]/block150" in after
    p.js("window.graphscope.select('/block7777/Relu')")  # revealing a node opens its range
    assert "/block7777/Relu" in p.js("window.graphscope.visibleNodes()")
    assert p.requests == [] and p.errors == []
    p.close()
