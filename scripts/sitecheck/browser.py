"""Open every page of the built book in headless Chromium and fail on anything broken.

Chromium is driven through the DevTools protocol (``websocket-client``),
behind the trap proxy of :mod:`sitecheck.serve`. For each page it fails on:

* any request of the page to a host other than 127.0.0.1 (``data:``/``blob:``
  and other in-browser URLs are fine);
* any console error: ``console.error``/``console.assert``, an uncaught
  exception, or a browser log entry of level error (failed loads included);
  a missing ``/favicon.ico`` is ignored;
* any response of the site with status >= 400, any failed request;
* any ``<img>`` that did not load (incomplete or zero natural size);
* a page with widget views whose widgets did not render (or that shows
  "Error displaying widget"), or with math that MathJax did not typeset (or
  typeset with errors);
* on the results overview (``book/executed/results.html``), anything that
  scrolls sideways at 1280 px (``sideways``).

On the probe page (``book/executed/13_prefix_probe.html``) it drives the
static prefix probe like a reader: moves the slider with the keyboard, picks
another pair, and checks that the shown scores, prefix texts and agreement
update; exercise solutions are hidden until their title is clicked. It saves
screenshots of the results overview, of the probe and of the first exercises.

A pass is remembered in ``<root>/../.browser-test-ok`` (hash of the site's
files, of the pages tested and of this tool's own files): an unchanged site is
not tested again unless ``force`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .serve import ChromiumError, chromium, is_local, site_and_trap
from .static import report, site_pages

PROBE_PAGE = "book/executed/13_prefix_probe.html"
RESULTS_PAGE = "book/executed/results.html"
SHOTS = ("results.png", "13_prefix_probe.png")
STAMP_NAME = ".browser-test-ok"
# The tool's own files: a change to any of them invalidates a remembered pass.
TOOL_FILES = [
    *sorted(Path(__file__).resolve().parent.glob("*.py")),
    Path(__file__).resolve().parent.parent / "check_site.py",
]


class DevTools:
    """A minimal DevTools-protocol client over one page target (websocket-client)."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True, enable_multithread=False)
        self.next_id = 0
        self.events: list[dict] = []

    def close(self) -> None:
        self.ws.close()

    def _read(self, timeout: float) -> dict | None:
        import websocket

        self.ws.settimeout(max(timeout, 0.01))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None

    def call(self, method: str, timeout: float = 60, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self._read(deadline - time.time())
            if msg is None:
                continue
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"DevTools {method}: no answer in {timeout}s")

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            msg = self._read(deadline - time.time())
            if msg and "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str, timeout: float = 30):
        result = self.call(
            "Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"script failed in the page: {text}")
        return result.get("result", {}).get("value")

    def wait_loaded(self, start: int, timeout: float, quiet: float = 0.6) -> bool:
        """Wait for the load event of the navigation, then until no request is pending for ``quiet`` s."""
        deadline = time.time() + timeout
        loaded, last_activity = False, time.time()
        while time.time() < deadline:
            n = len(self.events)
            self.pump(0.1)
            if len(self.events) > n:
                last_activity = time.time()
            events = self.events[start:]
            loaded = loaded or any(e["method"] == "Page.loadEventFired" for e in events)
            if loaded and not pending(events) and time.time() - last_activity >= quiet:
                return True
        return False

    def key(self, key: str, code: int) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=key,
                windowsVirtualKeyCode=code,
                nativeVirtualKeyCode=code,
            )


def pending(events: list[dict]) -> set[str]:
    """Ids of the requests among ``events`` that have neither finished nor failed."""
    started, done = set(), set()
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            started.add(p["requestId"])
        elif m in ("Network.loadingFinished", "Network.loadingFailed"):
            done.add(p["requestId"])
    return started - done


def page_problems(events: list[dict]) -> list[str]:
    """Outside requests, failed loads and console errors among a page's DevTools events."""
    problems, urls = [], {}
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            urls[p["requestId"]] = url
            if not is_local(url):
                problems.append(f"outside request: {url}")
        elif m == "Network.responseReceived":
            status, url = p["response"]["status"], p["response"]["url"]
            if status >= 400 and urlsplit(url).path != "/favicon.ico":
                problems.append(f"HTTP {status}: {url}")
        elif m == "Network.loadingFailed":
            url = urls.get(p["requestId"], "?")
            if urlsplit(url).path != "/favicon.ico" and is_local(url) and not p.get("canceled"):
                problems.append(f"request failed ({p.get('errorText')}): {url}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {text[:300]}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text", "")
            problems.append(f"uncaught exception: {text[:300]} ({d.get('url', '')}:{d.get('lineNumber', '')})")
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            if entry.get("level") == "error" and urlsplit(entry.get("url", "")).path != "/favicon.ico":
                problems.append(
                    f"console error ({entry.get('source')}): {entry.get('text', '')[:300]} "
                    f"{entry.get('url', '')}".rstrip()
                )
    return list(dict.fromkeys(problems))


_IMAGES_JS = """
(async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === "lazy") { i.loading = "eager"; } });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener("load", r); i.addEventListener("error", r); setTimeout(r, 8000); })));
  return {total: imgs.length,
          broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.currentSrc || i.src ||
            i.outerHTML.slice(0, 120))};
})()
"""

_RENDER_JS = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  return {widgets: document.querySelectorAll(".jupyter-widgets").length,
          widgetErrors: document.body.innerText.includes("Error displaying widget"),
          mjx: document.querySelectorAll("mjx-container").length,
          mjxErrors: document.querySelectorAll("mjx-merror").length};
})()
"""

_SIDEWAYS_JS = """
(() => {
  const out = [], doc = document.documentElement, width = doc.clientWidth;
  if (doc.scrollWidth > width + 1) { out.push(`the page is ${doc.scrollWidth}px wide in a ${width}px window`); }
  const text = document.querySelector("article") || document.querySelector("main") || document.body;
  for (const e of text.querySelectorAll("*")) {
    const style = getComputedStyle(e);
    const scrolls = ["auto", "scroll"].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1;
    const clipped = e.tagName === "TABLE" && e.getBoundingClientRect().right > width + 1;
    if (scrolls || clipped) {
      const name = e.tagName.toLowerCase() + (e.classList.length ? "." + e.classList[0] : "");
      out.push(`${name} ${scrolls ? "scrolls sideways" : "runs past the window"} ` +
               `(${Math.max(e.scrollWidth, Math.round(e.getBoundingClientRect().width))}px in ${e.clientWidth || width}px)`);
    }
  }
  return out;
})()
"""


def sideways(dt: DevTools) -> list[str]:
    """What makes the loaded page scroll sideways at the window's width: the page itself, a
    scrolling box of its text (a wide table's container), a table running past the window."""
    return list(dt.evaluate(_SIDEWAYS_JS) or [])


_PROBE_STATE_JS = """
(() => {
  const root = document.querySelector(".spprm-probe");
  if (!root) { return null; }
  const q = s => root.querySelector(s);
  const all = s => Array.from(root.querySelectorAll(s)).map(e => e.textContent);
  return {id: root.id, pair: q("[data-role=pair]").value, pairs: q("[data-role=pair]").options.length,
          t: q("[data-role=slider]").value, max: q("[data-role=slider]").max, shownT: q("[data-role=t]").textContent,
          scores: all("[data-role=score]"), agree: all("[data-role=agree]"), prompt: q("[data-role=prompt]").textContent,
          prefix0: q("[data-role=prefix-0]").textContent, prefix1: q("[data-role=prefix-1]").textContent};
})()
"""


def drive_probe(dt: DevTools) -> tuple[list[str], dict]:
    """Move the static probe's slider and pick another pair; check what it shows updates."""
    problems = []
    s0 = dt.evaluate(_PROBE_STATE_JS)
    if s0 is None:
        return ["the static prefix probe (.spprm-probe) is not in the page"], {}

    def filled(s, when):
        bad = [x for x in s["scores"] if not x.strip()] + [x for x in s["agree"] if x not in ("yes", "no")]
        if not s["scores"] or bad or not s["prompt"].strip():
            problems.append(f"probe {when}: scores/agreement/prompt not shown ({s})")

    filled(s0, "on load")
    if s0["pairs"] < 2:
        problems.append(f"probe: only {s0['pairs']} pair(s) to pick from")
    # move the slider like a reader: focus it, press the left arrow key three times
    dt.evaluate("document.querySelector('.spprm-probe [data-role=slider]').focus()")
    for _ in range(3):
        dt.key("ArrowLeft", 37)
    s1 = dt.evaluate(_PROBE_STATE_JS)
    filled(s1, "after moving the slider")
    if s1["t"] == s0["t"] or s1["shownT"] != s1["t"]:
        problems.append(f"probe: the slider did not move t ({s0['t']} -> {s1['t']}, shown {s1['shownT']})")
    if s1["scores"] == s0["scores"]:
        problems.append(f"probe: scores did not change when t moved ({s0['scores']})")
    if (s1["prefix0"], s1["prefix1"]) == (s0["prefix0"], s0["prefix1"]):
        problems.append("probe: prefix texts did not change when t moved")
    # pick another pair
    dt.evaluate("""(() => { const s = document.querySelector('.spprm-probe [data-role=pair]');
        s.focus(); s.value = String((Number(s.value) + 1) % s.options.length);
        s.dispatchEvent(new Event('input', {bubbles: true}));
        s.dispatchEvent(new Event('change', {bubbles: true})); })()""")
    s2 = dt.evaluate(_PROBE_STATE_JS)
    filled(s2, "after picking another pair")
    if s2["pair"] == s1["pair"] or s2["prompt"] == s1["prompt"] and s2["prefix0"] == s1["prefix0"]:
        problems.append("probe: picking another pair did not change the pair shown")
    if s2["scores"] == s1["scores"]:
        problems.append("probe: scores did not change with the pair")
    return problems, {
        "pairs": s0["pairs"],
        "t": [s0["t"], s1["t"], s2["t"]],
        "scores_ORM_A": [s0["scores"][0], s1["scores"][0], s2["scores"][0]],
    }


_SOLUTION_STATE_JS = """
(() => {
  const all = document.querySelectorAll('.solution.dropdown');
  const visible = (e) => !!e && e.offsetHeight > 0 && getComputedStyle(e).visibility !== 'hidden';
  const shown = [...all].filter(s => visible(s.querySelector('#solution-content, .admonition-title ~ *')));
  const first = all[0];
  return {solutions: all.length, shown: shown.length,
          button: !!(first && first.querySelector('.toggle-button')),
          firstShown: !!first && visible(first.querySelector('#solution-content, .admonition-title ~ *'))};
})()
"""


def drive_solutions(dt: DevTools, reveal: bool) -> tuple[list[str], dict]:
    """Solutions of exercises are hidden on load; (``reveal``) a click on the first one's title shows it."""
    s0 = dt.evaluate(_SOLUTION_STATE_JS)
    if not s0["solutions"]:
        return [], {}
    problems = []
    if s0["shown"]:
        problems.append(f"{s0['shown']} of {s0['solutions']} exercise solutions visible before any click")
    if not s0["button"]:
        problems.append("the first exercise solution has no toggle button")
    if reveal and not problems:
        dt.evaluate("document.querySelector('.solution.dropdown .admonition-title').click()")
        dt.pump(0.6)
        s1 = dt.evaluate(_SOLUTION_STATE_JS)
        if not s1["firstShown"] or s1["shown"] != 1:
            problems.append(f"clicking the first solution's title did not show it alone ({s1})")
    return problems, {"solutions": s0["solutions"]}


def _padded(box: dict, max_height: int, pad: int = 12) -> dict:
    """A screenshot clip: ``box`` (page coordinates) with ``pad`` px around it, at most ``max_height`` tall."""
    return {
        "x": max(0, box["x"] - pad),
        "y": max(0, box["y"] - pad),
        "width": box["width"] + 2 * pad,
        "height": min(box["height"] + 2 * pad, max_height),
        "scale": 1,
    }


def screenshot(dt: DevTools, path: Path, selector: str | None = None, max_height: int = 7000) -> None:
    """Save a PNG of the whole page (up to ``max_height`` px) or of one element."""
    # behavior "instant": the theme scrolls smoothly, and a box measured mid-scroll is off
    dt.evaluate(
        "(() => { if (document.activeElement) { document.activeElement.blur(); }"
        " window.scrollTo({top: 0, left: 0, behavior: 'instant'}); })()"
    )
    if selector:
        box = dt.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            const r = e.getBoundingClientRect();
            return {{x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}}; }})()""")
        clip = _padded(box, max_height)
    else:
        size = dt.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
    shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def screenshot_in_view(dt: DevTools, path: Path, selectors: list[str], height: int = 1600) -> None:
    """Save a PNG of the box around the first element of each selector, scrolled into a viewport
    ``height`` px tall (captured as shown: no layout change for a capture beyond the viewport)."""
    dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
    try:
        box = dt.evaluate(f"""(() => {{
            const es = {json.dumps(selectors)}.map(q => document.querySelector(q)).filter(Boolean);
            if (document.activeElement) {{ document.activeElement.blur(); }}
            es[0].scrollIntoView({{block: 'start', behavior: 'instant'}});
            const rs = es.map(e => e.getBoundingClientRect());
            const x = Math.min(...rs.map(r => r.left)), y = Math.min(...rs.map(r => r.top));
            return {{x: x + scrollX, y: y + scrollY, width: Math.max(...rs.map(r => r.right)) - x,
                     height: Math.max(...rs.map(r => r.bottom)) - y}}; }})()""")
        dt.pump(0.3)
        clip = _padded(box, height)
        shot = dt.call("Page.captureScreenshot", format="png", clip=clip)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)


def visit_page(dt: DevTools, base: str, root: Path, rel: str, timeout: float) -> tuple[list[str], dict]:
    """Load one page and return its problems and a few numbers about it."""
    source = (root / rel).read_text(encoding="utf-8", errors="replace")
    start = len(dt.events)
    dt.call("Page.navigate", url=f"{base}/{rel}")
    problems = [] if dt.wait_loaded(start, timeout) else [f"page did not finish loading in {timeout:.0f}s"]
    images = dt.evaluate(_IMAGES_JS)
    render = dt.evaluate(_RENDER_JS)
    dt.pump(0.3)
    problems += page_problems(dt.events[start:])
    problems += [f"image not loaded: {src}" for src in images["broken"]]
    if "application/vnd.jupyter.widget-view+json" in source:
        if render["widgets"] == 0:
            problems.append("widget views in the page, none rendered")
        if render["widgetErrors"]:
            problems.append("'Error displaying widget' in the page")
    if 'class="math' in source:
        if render["mjx"] == 0:
            problems.append("math in the page but MathJax typeset nothing")
        if render["mjxErrors"]:
            problems.append(f"{render['mjxErrors']} MathJax error(s) in the page")
    requests = sum(e["method"] == "Network.requestWillBeSent" for e in dt.events[start:])
    return problems, {"page": rel, "requests": requests, "images": images["total"], **render}


def site_digest(root: Path, pages: list[str]) -> str:
    """sha256 of every file of the site, the pages tested and the tool's own files."""
    h = hashlib.sha256()
    for path in TOOL_FILES:
        h.update(path.read_bytes())
    h.update(json.dumps(pages).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _visit_all(
    dt: DevTools,
    base: str,
    root: Path,
    pages: list[str],
    probe_page: str,
    results_page: str,
    shots: Path,
    timeout: float,
    failures: dict[str, list[str]],
) -> None:
    """Visit ``pages`` one after the other, adding their problems to ``failures``."""
    for domain in ("Page", "Network", "Runtime", "Log"):
        dt.call(f"{domain}.enable")
    dt.call("Network.setCacheDisabled", cacheDisabled=True)
    dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    revealed = False
    for rel in pages:
        try:
            problems, stats = visit_page(dt, base, root, rel, timeout)
            before = len(dt.events)
            solution_problems, solutions = drive_solutions(dt, reveal=not revealed)
            if solutions:
                stats["exercises"] = solutions
                problems += solution_problems + page_problems(dt.events[before:])
                if not revealed and not solution_problems:
                    screenshot_in_view(dt, shots / "exercise.png", [".exercise.admonition", ".solution.dropdown"])
                    revealed = True
            if rel == probe_page:
                before = len(dt.events)
                probe_problems, stats["probe"] = drive_probe(dt)
                dt.pump(0.3)
                problems += probe_problems + page_problems(dt.events[before:])
                if not probe_problems:
                    screenshot(dt, shots / "13_prefix_probe.png", ".spprm-probe")
                screenshot(dt, shots / "13_prefix_probe_page.png")
            if rel == results_page:
                problems += [f"at 1280 px: {p}" for p in sideways(dt)]  # the overview reads without scrolling
                screenshot(dt, shots / "results.png")
        except (RuntimeError, TimeoutError, KeyError, TypeError) as err:
            problems, stats = [f"browser test error: {err}"], {"page": rel}
        if problems:
            failures.setdefault(rel, []).extend(problems)
        print(("FAIL " if problems else "ok   ") + json.dumps(stats), flush=True)


def run(
    root: str | Path,
    pages: list[str] | None = None,
    probe_page: str = PROBE_PAGE,
    results_page: str = RESULTS_PAGE,
    screenshots: str | Path | None = None,
    timeout: float = 30.0,
    force: bool = False,
) -> int:
    """The static checks, then the pages (default: all) in Chromium; prints a line per page.

    Returns 0 when all passed (or passed before, unchanged), 1 on any problem
    (or no Chromium), 2 when there is no built site.
    """
    root = Path(root).resolve()
    if not (root / "index.html").is_file():
        print(f"check_site: no built site at {root} (run scripts/build_book.py)", file=sys.stderr)
        return 2
    rc = report(root)
    if rc:
        return rc
    shots = Path(screenshots) if screenshots else root.parent / "screenshots"
    pages = pages or [p.relative_to(root).as_posix() for p in site_pages(root)]
    stamp = root.parent / STAMP_NAME
    digest = site_digest(root, pages)
    have_shots = all((shots / n).is_file() for n in SHOTS)
    if not force and have_shots and stamp.is_file() and stamp.read_text() == digest:
        print(f"check_site: {root} passed before and is unchanged (use --force to test again)")
        return 0
    stamp.unlink(missing_ok=True)
    failures: dict[str, list[str]] = {}
    for must in (probe_page, results_page):
        if not (root / must).is_file():
            failures[must] = [f"page missing from the build: {root / must}"]
    with site_and_trap(root) as (site, trap):
        base = site.base_url
        try:
            with chromium(trap.server_address[1]) as ws_url:
                dt = DevTools(ws_url)
                try:
                    _visit_all(dt, base, root, pages, probe_page, results_page, shots, timeout, failures)
                finally:
                    dt.close()
        except ChromiumError as err:
            print(f"check_site: {err}", file=sys.stderr)
            return 1
        n_trapped = len(trap.requests)
    for rel, problems in failures.items():
        for p in problems:
            print(f"error: {rel} ({base}/{rel}): {p}", file=sys.stderr)
    print(
        f"check_site: {len(pages) - sum(r in pages for r in failures)}/{len(pages)} pages ok; "
        f"(Chromium's own background requests answered 403 by the trap proxy: {n_trapped}); "
        f"screenshots in {shots}"
    )
    if failures:
        return 1
    stamp.write_text(digest)
    return 0
