"""`graphscope view`: the HTML viewer for a model in one command, like `netron model.onnx`.

The page is written to a fresh temporary folder and opened in the default browser; or its path
is printed (``--no-browser``); or it is served on 127.0.0.1 (``--serve``) for a browser on
another machine, reached through SSH port forwarding (``ssh -L 8080:127.0.0.1:8080 host``).
The server answers GET for the page only, and listens on the loopback interface only."""
from __future__ import annotations

import http.server
import tempfile
from pathlib import Path


def write_page(graph, **options) -> Path:
    """The viewer for ``graph`` in a new temporary folder (left for the browser to read)."""
    from .renderers import render
    folder = Path(tempfile.mkdtemp(prefix="graphscope-view-"))
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in graph.name)[:80] or "model"
    return Path(render(graph, folder / f"{stem}.html", format="html", **options))


def open_in_browser(page: Path) -> bool:
    """True when a browser was started (webbrowser finds none on a headless machine)."""
    import webbrowser
    try:
        return webbrowser.open(page.resolve().as_uri())
    except Exception:  # noqa: BLE001 - a broken browser setup: the path is printed anyway
        return False


def make_server(page: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1:``port`` (0: any free port) whose only resource is ``page``."""
    body = page.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path.split("?")[0] not in ("/", "/index.html", f"/{page.name}"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # no per-request noise on stderr
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
