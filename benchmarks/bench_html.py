"""The HTML viewer against Netron, same ONNX files, same Chromium, one run.

For chains of about 2k, 10k and 30k nodes (tests/zoo/onnx_models.chain): time to write the
.html, its size per node, time from opening it to `window.graphscope.ready`, time to expand the
largest group, and the longest main-thread task after ready (while expanding, zooming, fitting).
Netron (`pip install netron`) serves the same .onnx on 127.0.0.1; its time to first drawn graph
is measured the same way. Without netron installed, only graphscope's figures are printed.

    .venv/bin/python benchmarks/bench_html.py [--sizes 2000,10000,30000] [--netron-timeout 300]
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import onnx  # noqa: E402

import graphscope  # noqa: E402
from tests.browser import ARGS, CHROMIUM  # noqa: E402
from tests.zoo import onnx_models  # noqa: E402
# Long tasks go to a DOM attribute, not a JS global: Netron replaces window.eval, which
# Playwright's page.evaluate needs, so its page is read through the DOM (an isolated world).
LONGTASKS = """
let mark = Infinity;
const tasks = [];
document.addEventListener('keydown', e => { if (e.key === 'F12') mark = performance.now(); },
                          true);
new PerformanceObserver(l => { for (const e of l.getEntries()) if (e.startTime >= mark) {
    tasks.push(Math.round(e.duration));
    document.documentElement.setAttribute('data-long', JSON.stringify(tasks)); } })
  .observe({type: 'longtask', buffered: true});
"""


def new_page(browser, allow_host=None):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    blocked = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "blob:", "data:")) or (allow_host and allow_host in url):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()
    ctx.route("**/*", route)
    page = ctx.new_page()
    page.add_init_script(LONGTASKS)
    return ctx, page, blocked


def mark(page):
    page.keyboard.press("F12")  # input events, not evaluate: see LONGTASKS


def long_tasks(page):
    page.wait_for_timeout(100)  # let the observer deliver
    tasks = json.loads(page.locator("html").get_attribute("data-long") or "[]")
    return max(tasks, default=0), sum(d > 200 for d in tasks)


def bench_graphscope(browser, html_path: Path) -> dict:
    ctx, page, blocked = new_page(browser)
    start = time.perf_counter()
    page.goto(html_path.as_uri(), wait_until="commit")
    page.evaluate("""() => new Promise(done => { const wait = () => window.graphscope ?
        window.graphscope.ready.then(done) : setTimeout(wait, 2); wait(); })""")
    ready = time.perf_counter() - start
    mark(page)
    largest = page.evaluate("""() => { const v = window.graphscope.viewer;
        let best = null; for (const b of v.cur.view.boxes) if (b.kind === 'group' &&
        (!best || b.members.length > best.members.length)) best = b;
        return best ? [v.D.namespaces[best.ns][0], best.members.length] : null; }""")
    expand = None
    if largest:
        s = time.perf_counter()
        page.evaluate("ns => window.graphscope.expand(ns)", largest[0])
        expand = time.perf_counter() - s
    for _ in range(6):  # interaction: zoom out step by step, then fit
        page.mouse.move(700, 450)
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(30)
    page.evaluate("window.graphscope.viewer.fit()")
    page.wait_for_timeout(200)
    worst, over = long_tasks(page)
    visible = page.evaluate("window.graphscope.visibleNodes().length")
    ctx.close()
    assert not blocked, blocked
    return {"ready": ready, "expand": expand, "largest": largest, "worst_task_ms": worst,
            "tasks_over_200ms": over, "visible": visible}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_netron(browser, onnx_path: Path, timeout: float) -> dict | None:
    exe = shutil.which("netron") or str(Path(sys.executable).parent / "netron")
    if not Path(exe).exists():
        return None
    port = free_port()
    server = subprocess.Popen([exe, str(onnx_path), "--port", str(port), "--host", "127.0.0.1",
                               "--verbosity", "quiet"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):  # wait for the server to listen (not timed)
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        ctx, page, _blocked = new_page(browser, allow_host=f"127.0.0.1:{port}")
        # answered cookie banner, as for a returning user (it blocks the first view otherwise)
        ctx.add_cookies([{"name": "consent", "value": str(int(time.time() * 1000)),
                          "url": url}])
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        try:
            page.wait_for_selector("body.default #target .node", state="attached",
                                   timeout=timeout * 1000)
            ready = time.perf_counter() - start
        except Exception:  # Playwright's TimeoutError
            ready = None
        worst = over = None
        if ready is not None:
            mark(page)
            for _ in range(6):
                page.mouse.move(700, 450)
                page.mouse.wheel(0, 400)
                page.wait_for_timeout(30)
            page.wait_for_timeout(200)
            worst, over = long_tasks(page)
        ctx.close()
        return {"ready": ready, "worst_task_ms": worst, "tasks_over_200ms": over}
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,10000,30000")
    ap.add_argument("--netron-timeout", type=float, default=300)
    ap.add_argument("--flat", action="store_true",
                    help="also open every graph fully expanded (worst case for drawing)")
    ap.add_argument("--no-netron", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="bench_html_"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n in map(int, args.sizes.split(",")):
            model = tmp / f"chain{n}.onnx"
            onnx.save(onnx_models.chain(n), str(model))
            s = time.perf_counter()
            graph = graphscope.load(str(model))
            load_s = time.perf_counter() - s
            s = time.perf_counter()
            html_path = graph.render(tmp / f"chain{n}.html")
            write_s = time.perf_counter() - s
            size = html_path.stat().st_size
            gs = bench_graphscope(browser, html_path)
            flat = None
            if args.flat:
                flat_path = graph.render(tmp / f"chain{n}_flat.html", depth=99)
                flat = bench_graphscope(browser, flat_path)
            nt = None if args.no_netron else bench_netron(browser, model, args.netron_timeout)
            rows.append((len(graph.nodes), load_s, write_s, size, gs, flat, nt))
            r = rows[-1]
            print(f"nodes {r[0]}: load {load_s:.2f}s, write html {write_s:.2f}s, "
                  f"{size / 1e6:.2f} MB ({size / r[0]:.0f} B/node)")
            print(f"  graphscope: ready {gs['ready']:.3f}s, expand {gs['largest']} "
                  f"{gs['expand'] or 0:.3f}s, worst task after ready {gs['worst_task_ms']:.0f} ms "
                  f"({gs['tasks_over_200ms']} over 200 ms)")
            if flat:
                print(f"  graphscope fully expanded ({flat['visible']} boxes): ready "
                      f"{flat['ready']:.3f}s, worst task after ready {flat['worst_task_ms']:.0f} ms"
                      f" ({flat['tasks_over_200ms']} over 200 ms)")
            if nt is None:
                print("  netron: not run" if args.no_netron else
                      "  netron: not installed (pip install netron)")
            elif nt["ready"] is None:
                print(f"  netron: not ready after {args.netron_timeout:.0f}s "
                      f"(graphscope > {args.netron_timeout / gs['ready']:.0f}x faster)")
            else:
                print(f"  netron: ready {nt['ready']:.3f}s, worst task after ready "
                      f"{nt['worst_task_ms']:.0f} ms ({nt['tasks_over_200ms']} over 200 ms); "
                      f"graphscope {nt['ready'] / gs['ready']:.1f}x faster to first view")
            sys.stdout.flush()
        browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
