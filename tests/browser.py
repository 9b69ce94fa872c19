"""Headless Debian Chromium through Playwright, offline, for the browser tests: the path, the
arguments, the marks a browser test module sets, a module-scoped ``browser`` fixture (import
it into the test module) and an offline context."""
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

MARKS = [pytest.mark.browser,
         pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no /usr/bin/chromium")]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def offline_context(browser, width=1200, height=800):
    """A context where only file:, blob: and data: URLs load: (context, blocked), every other
    request aborted and its URL appended to ``blocked``."""
    context = browser.new_context(viewport={"width": width, "height": height})
    blocked = []

    def route(r):
        if r.request.url.startswith(("file:", "blob:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    context.route("**/*", route)
    return context, blocked
