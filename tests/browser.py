"""Headless Debian Chromium through Playwright, offline, for the browser tests: the path, the
arguments, the marks a browser test module sets, and a module-scoped ``browser`` fixture
(import it into the test module)."""
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
