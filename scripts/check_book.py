"""Open the built book in headless Chromium and check what a reader would see.

    python scripts/check_book.py [--html _build/book/_build/html] [--out _build/screenshots]

For the index and every page of ``_toc.yml`` this loads the page over ``file://`` with the network
unused, waits for MathJax, and checks that

* the page loads (no JavaScript exception, no local file that fails to load);
* no image is missing: every ``<img>`` has ``naturalWidth > 0``;
* the math is rendered: every Sphinx math element holds MathJax output (``mjx-container``) and
  none a MathJax error, and no raw ``$$`` is left in the text; the index and the chapters must
  contain math;
* nothing is fetched from the network (a CDN would make the book depend on one);

and saves a full-page screenshot of each page as ``OUT/PAGE.png``. Chromium is driven over the
DevTools protocol with tornado's websocket client (already installed with Jupyter). Exit status 1
lists every failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from build_book import ensure_tool, toc_files  # a sibling script: scripts/ is on sys.path
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
]
WIDTH, HEIGHT, MAX_HEIGHT = 1280, 900, 12000  # viewport; full-page screenshots are capped

# evaluated in the page once it has loaded and MathJax (if any) has finished typesetting
PROBE = """(() => {
  const imgs = Array.from(document.images);
  const math = Array.from(document.querySelectorAll('div.math, span.math'));
  const body = document.querySelector('article') || document.body;
  return {
    title: document.title,
    images: imgs.length,
    missing_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    math_elements: math.length,
    unrendered_math: math.filter(m => !m.querySelector('mjx-container')).length,
    mathjax_output: document.querySelectorAll('mjx-container').length,
    mathjax_errors: document.querySelectorAll('mjx-merror').length,
    raw_dollars: (body.innerText.match(/\\$\\$/g) || []).length,
    tables: document.querySelectorAll('table').length,
    height: Math.min(document.documentElement.scrollHeight, MAX_HEIGHT),
  };
})()""".replace("MAX_HEIGHT", str(MAX_HEIGHT))

WAIT_MATHJAX = """(async () => {
  if (!window.MathJax || !MathJax.startup) return 'none';
  await MathJax.startup.promise;
  return 'done';
})()"""


class Browser:
    """A headless Chromium and one tab, over the DevTools protocol."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="check-book-chromium-")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def start(self) -> None:
        port = None
        for line in self.proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/..."
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            raise RuntimeError("chromium exited before opening its DevTools port")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=1 << 30)
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            await self.call(method)
        await self.call("Emulation.setDeviceMetricsOverride",
                        width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    async def call(self, method: str, **params):
        msg_id = next(self.ids)
        await self.ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.read_message())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        async def read():
            while True:
                msg = json.loads(await self.ws.read_message())
                if msg.get("method") == method:
                    return msg
                self.events.append(msg)
        return await asyncio.wait_for(read(), timeout)

    async def evaluate(self, expression: str):
        res = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                              returnByValue=True, timeout=30000)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text", "exception"))
        return res["result"].get("value")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def _describe(details: dict) -> str:
    exc = details.get("exception", {})
    where = f"{details.get('url', '')}:{details.get('lineNumber', '')}"
    return f"{exc.get('description') or details.get('text', '')} at {where}"


async def check_page(browser: Browser, path: Path, needs_math: bool, shot: Path) -> tuple[dict, list[str]]:
    browser.events.clear()
    url = path.as_uri()
    await browser.call("Page.navigate", url=url)
    await browser.wait_event("Page.loadEventFired")
    mathjax = await browser.evaluate(WAIT_MATHJAX)
    info = await browser.evaluate(PROBE)
    # events seen while loading: requests, failures, exceptions
    requests = {e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in browser.events if e.get("method") == "Network.requestWillBeSent"}
    failed = [requests.get(e["params"]["requestId"], "?") for e in browser.events
              if e.get("method") == "Network.loadingFailed"]
    remote = sorted({u for u in requests.values() if re.match(r"https?:|wss?:|ftp:", u)})
    exceptions = [_describe(e["params"]["exceptionDetails"]) for e in browser.events
                  if e.get("method") == "Runtime.exceptionThrown"]
    problems = []
    if info["missing_images"]:
        problems.append(f"missing images: {info['missing_images']}")
    if info["unrendered_math"] or info["mathjax_errors"] or info["raw_dollars"]:
        problems.append(f"math not rendered: {info['unrendered_math']} raw elements, "
                        f"{info['mathjax_errors']} MathJax errors, {info['raw_dollars']} raw $$")
    if needs_math and (mathjax != "done" or info["mathjax_output"] == 0):
        problems.append(f"no rendered math (MathJax: {mathjax}, {info['mathjax_output']} outputs)")
    if failed:
        problems.append(f"failed to load: {failed}")
    if remote:
        problems.append(f"network requests (the book must work offline): {remote}")
    if exceptions:
        problems.append(f"JavaScript exceptions: {exceptions}")
    # full-page screenshot, capped in height
    await browser.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=info["height"],
                       deviceScaleFactor=1, mobile=False)
    png = await browser.call("Page.captureScreenshot", format="png")
    await browser.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                       deviceScaleFactor=1, mobile=False)
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(png["data"]))
    info["mathjax"] = mathjax
    return info, problems


async def run(html: Path, out: Path, executable: str, toc: Path) -> int:
    index = html / "index.html"
    # jupyter-book writes index.html as a redirect to the root page: check where it leads
    m = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', index.read_text(), re.I)
    pages = [("index", (index.parent / m.group(1)) if m else index, True)]
    for f in toc_files(toc):
        pages.append((f.replace("/", "__"), html / f"{f}.html", f.startswith("notebooks/")))
    browser = Browser(executable)
    failures = 0
    try:
        await browser.start()
        for name, path, needs_math in pages:
            if not path.exists():
                print(f"FAIL {name}: {path} does not exist")
                failures += 1
                continue
            info, problems = await check_page(browser, path, needs_math, out / f"{name}.png")
            status = "FAIL" if problems else "ok  "
            failures += bool(problems)
            print(f"{status} {name}: {info['images']} images, {info['mathjax_output']} equations "
                  f"rendered, {info['tables']} tables -> {out / (name + '.png')}")
            for p in problems:
                print(f"     {p}")
    finally:
        browser.close()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=ROOT / "_build" / "book" / "_build" / "html")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    ap.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="the pages to check")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    executable = ensure_tool(args.chromium, "chromium")
    if executable is None:
        print(f"check_book: {args.chromium} not found; install Debian's chromium (apt-get install chromium)",
              file=sys.stderr)
        return 2
    if not (args.html / "index.html").exists():
        print(f"check_book: no book at {args.html}; build it first (make book)", file=sys.stderr)
        return 2
    return asyncio.run(run(args.html.resolve(), args.out, executable, args.toc))


if __name__ == "__main__":
    sys.exit(main())
