"""The HTML viewer's compound layout: clean frames, edge crossings against Graphviz dot, speed.

For each model, opened in headless Chromium (offline) at its first view (the automatic depth)
and at other depths: overlaps between boxes that are not nested, boxes outside their
namespace's frame, edges through boxes or frames they do not belong to (all must be 0); the
edge crossings of our layout and of `dot -Tjson` on the same visible graph (same box sizes,
frames as clusters), with dot's time; and the time from opening the page to ready.

Speed: time to first view at 10,000 and 100,000 nodes (tests/zoo/onnx_models.chain), against
the viewer version before the compound layout (git `--before`, default b3afc44) and Netron
(`netron` from pip, if installed), measured in the same run.

With `--wild all`, every prototxt of ../shared/corpus/caffe/wild that graphscope loads (the
ones it refuses are counted) is opened at its first view and fully expanded, and a summary
prints how many views have more crossings than dot and the total crossings, ours and dot's.

    .venv/bin/python benchmarks/bench_layout.py [--quick] [--no-speed] [--no-netron]
                                                [--wild listed|all|none] [--no-models]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402

import graphscope  # noqa: E402
from graphscope.renderers import html as html_renderer  # noqa: E402
from tests.renderers import layout_geometry as geo  # noqa: E402
from tests.zoo import caffe_models, layout_models, onnx_models  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
READY = """() => new Promise(done => { const wait = () => window.graphscope ?
    window.graphscope.ready.then(done) : setTimeout(wait, 2); wait(); })"""


def models(quick: bool, wild_mode: str = "listed", named: bool = True):
    tmp = Path(tempfile.mkdtemp(prefix="bench_layout_"))
    proto = tmp / "googlenet.prototxt"
    proto.write_text(caffe_models.googlenet())
    out = [] if not named else [("resnet50", lambda: onnx_models.resnet50(), [None, 1, 99]),
           ("bert_encoder", lambda: layout_models.bert_encoder(), [None, 99]),
           ("googlenet (prototxt)", lambda: str(proto), [None, 99]),
           ("unet", lambda: layout_models.unet(), [None, 99]),
           ("three_levels 10k", lambda: layout_models.three_levels(10_000),
            [None, 2, 99] if not quick else [None, 99]),
           ("transformer_block", lambda: onnx_models.transformer_block(), [None, 99])]
    names = (sorted(p.name for p in WILD_DIR.glob("*.prototxt")) if wild_mode == "all"
             else WILD if wild_mode == "listed" else [])
    wild = WILD_DIR
    for name in names:  # real prototxts with interleaved namespaces and many-input heads
        if (wild / name).exists():
            out.append((name.split("__")[0] + "/" + name.split("__")[-1],
                        lambda name=name: str(wild / name), [None, 99]))
    return out, tmp


WILD_DIR = ROOT.parent / "shared" / "corpus" / "caffe" / "wild"
WILD = ["chuanqi305__MobileNetv2-SSDLite__ssdlite__voc__deploy.prototxt",
        "imistyrain__ssd-models__shufflenet__shufflenet_ssd_deploy.prototxt",
        "Robert-JunWang__Pelee__model__voc__deploy_merged.prototxt",
        "shicai__SENet-Caffe__se_resnet_50_v1_deploy.prototxt"]


def open_view(browser, path: Path, geometry: bool = True) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "blob:", "data:")) else r.abort())
    page = ctx.new_page()
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="commit")
    page.evaluate(READY)
    ready = time.perf_counter() - start
    if not geometry:  # the viewer before this layout has no boxes()/edges()
        ctx.close()
        return {"ready": ready}
    boxes = json.loads(page.evaluate("JSON.stringify(window.graphscope.boxes())"))
    edges = json.loads(page.evaluate("JSON.stringify(window.graphscope.edges())"))
    ctx.close()
    return {"ready": ready, "boxes": boxes, "edges": edges}


def quality(browser, graph, tmp: Path, name: str, depth, dot_timeout: float, edge_checks: bool):
    path = graph.render(tmp / f"{name.split()[0]}_{depth}.html", depth=depth, weight_stats=False)
    v = open_view(browser, path)
    boxes, edges = v["boxes"], v["edges"]
    bad_boxes = geo.box_problems(boxes)
    bad_edges = geo.edge_problems(boxes, edges) if edge_checks else None
    ours = geo.crossings(edges)
    s = time.perf_counter()
    theirs = geo.dot_edges(boxes, edges, timeout=dot_timeout)
    dot_s = time.perf_counter() - s
    dot_x = None if theirs is None else geo.crossings(theirs)
    n_frames = sum(b["kind"] == "frame" for b in boxes.values())
    label = "first view" if depth is None else f"--depth {depth}"
    print(f"  {label:12s} {len(boxes) - n_frames:6d} boxes {n_frames:4d} frames | "
          f"overlaps/outside {len(bad_boxes)}"
          f"{'' if bad_edges is None else f', edge problems {len(bad_edges)}'} | "
          f"crossings ours {ours}, dot {'>' + str(dot_timeout) + 's' if dot_x is None else dot_x}"
          f" ({dot_s:.1f}s) | ready {v['ready']:.2f}s")
    for p in (bad_boxes + (bad_edges or []))[:5]:
        print("     ", p)
    sys.stdout.flush()
    return {"bad": len(bad_boxes) + len(bad_edges or []), "ours": ours, "dot": dot_x}


def old_viewer_page(graph, path: Path, before: str) -> Path:
    """The same page written with the viewer of commit `before` (the layout before this one)."""
    js = subprocess.run(["git", "show", f"{before}:graphscope/renderers/html/viewer.js"],
                        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    data = html_renderer.script_json(html_renderer.graph_data(graph))
    frag = html_renderer.fill(html_renderer.asset("fragment.html"), height="100%",
                              css=html_renderer.asset("viewer.css"), data=data, js=js)
    path.write_text(html_renderer.fill(html_renderer.asset("page.html"), title=graph.name,
                                       fragment=frag), encoding="utf-8")
    return path


def first_view_time(browser, path: Path, runs: int = 3) -> float:
    return min(open_view(browser, path, geometry=False)["ready"] for _ in range(runs))


def speed(browser, tmp: Path, before: str, netron: bool):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_html
    for n in (10_000, 100_000):
        model = tmp / f"chain{n}.onnx"
        onnx.save(onnx_models.chain(n), str(model))
        graph = graphscope.load(str(model))
        new = first_view_time(browser, graph.render(tmp / f"chain{n}.html"))
        old = first_view_time(browser, old_viewer_page(graph, tmp / f"chain{n}_old.html", before))
        line = (f"  chain {n:,} nodes: first view {new:.3f}s (viewer before: {old:.3f}s, "
                f"{new / old:.2f}x its time)")
        if netron and n <= 10_000:
            nt = bench_html.bench_netron(browser, model, 300)
            if nt and nt["ready"]:
                line += f"; Netron {nt['ready']:.2f}s: {nt['ready'] / new:.0f}x faster"
            else:
                line += "; Netron: not available"
        print(line)
        sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer depths")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-netron", action="store_true")
    ap.add_argument("--dot-timeout", type=float, default=60)
    ap.add_argument("--before", default="b3afc44")
    ap.add_argument("--wild", choices=["listed", "all", "none"], default="listed",
                    help="wild prototxts: the 4 listed, every one in the corpus, or none")
    ap.add_argument("--no-models", action="store_true", help="only the wild prototxts")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from graphscope.errors import GraphscopeError
    todo, tmp = models(args.quick, args.wild, not args.no_models)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # per kind of view (first view / other depths): views, worse than dot, crossings
        tally = {k: {"views": 0, "worse": 0, "ours": 0, "dot": 0, "bad": 0}
                 for k in ("first view", "deeper")}
        refused, worst = [], []
        for name, make, depths in todo:
            try:
                graph = graphscope.load(make())
            except GraphscopeError as e:  # the reader refuses it: counted, not drawn
                refused.append(name)
                print(f"{name}: refused ({str(e)[:100]})")
                continue
            print(f"{name}: {len(graph.nodes)} nodes")
            for depth in depths:
                r = quality(browser, graph, tmp, name, depth, args.dot_timeout,
                            edge_checks=len(graph.nodes) < 3000)
                t = tally["first view" if depth is None else "deeper"]
                t["views"] += 1
                t["bad"] += r["bad"]
                if r["dot"] is not None:
                    t["ours"] += r["ours"]
                    t["dot"] += r["dot"]
                    if r["ours"] > r["dot"]:
                        t["worse"] += 1
                        worst.append((r["ours"] - r["dot"], name, depth, r["ours"], r["dot"]))
        for k, t in tally.items():
            print(f"{k}: {t['views']} views, {t['worse']} with more crossings than dot; "
                  f"crossings ours {t['ours']}, dot {t['dot']} (where dot finished); "
                  f"box/edge problems {t['bad']}")
        for gap, name, depth, ours, dot in sorted(worst, reverse=True):
            print(f"  worse: {name} {'first view' if depth is None else f'--depth {depth}'}: "
                  f"ours {ours}, dot {dot}")
        if refused:
            print(f"refused by graphscope: {len(refused)} ({', '.join(refused)})")
        if not args.no_speed:
            speed(browser, tmp, args.before, not args.no_netron)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
