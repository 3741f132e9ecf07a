#!/usr/bin/env python3
"""Load the built book in headless Chromium and check it works offline.

Usage:  python scripts/browser_check.py [_build/html] [--page REL.html ...]

For each page (default: every page of the site):

* the site is served from 127.0.0.1 by ``http.server`` in a thread, and every
  request it gets is logged with its status;
* Chromium writes a NetLog (``--log-net-log``). Every request *made by the
  page* (its site is the top-frame site of the request's network isolation key,
  or its origin the initiator) must go to 127.0.0.1. Chromium's own background
  traffic (component updater, network time, account check: these stay on even
  with --disable-background-networking) is listed apart, not counted;
* Chromium is pointed at a *trap proxy* (a local server that answers 403 to
  everything), so nothing it asks of an outside host ever leaves the machine;
  loopback requests bypass the proxy;
* ``--dump-dom`` after ``--virtual-time-budget`` gives the DOM after scripts ran:
  a page with widget views must contain rendered widgets (``jupyter-widgets``
  elements, no "Error displaying widget" text), a page with math must contain
  ``<mjx-container>`` elements and no ``<mjx-merror>``.

Fails (exit 1) on any outside request, any 404 from the site except
/favicon.ico, or a widget / math page that did not render. Needs ``chromium``
(Debian: apt-get install chromium). Only for verification: this is not a test of
widget interaction. ``scripts/browser_test.py`` (run by ``make book``) is the full
test: it drives Chromium through the DevTools protocol, fails on console errors
and missing images too, exercises the static prefix probe and takes screenshots;
it reuses the servers and Chromium flags defined here.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_site_offline import site_pages  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--no-default-browser-check", "--metrics-recording-only", "--mute-audio",
    "--no-pings", "--disable-breakpad", "--disable-client-side-phishing-detection",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
    "AutofillServerCommunication",
]
LOCAL_HOSTS = {"127.0.0.1"}
INTERNAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools", "chrome-error"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves the site and records (path, status) of every request."""

    def log_request(self, code="-", size="-"):
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        self.server.requests.append((self.path, status))

    def log_message(self, *args):  # no stderr noise
        pass


class _Trap(http.server.BaseHTTPRequestHandler):
    """Answers 403 to any proxied request (GET, CONNECT, ...) and records it."""

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_error(403, "offline: outside request blocked by browser_check")
        self.close_connection = True

    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.requests = []


def _start(handler) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def netlog_requests(path: Path) -> list[dict]:
    """URL_REQUEST_START_JOB events of a Chromium NetLog: url, initiator, isolation key."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # Chromium may leave the file unterminated
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    start_job = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"] for e in data.get("events", [])
            if e.get("type") == start_job and "url" in (e.get("params") or {})]


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def from_page(req: dict) -> bool:
    """True if the page (any frame of it) made this request, not the browser itself.

    The page's requests carry its site as the top-frame site of their network
    isolation key, or its origin as initiator; Chromium's own background traffic
    (updater, network time, account checks) has neither.
    """
    nik = (req.get("network_isolation_key") or "").split()
    return (bool(nik) and _host(nik[0]) in LOCAL_HOSTS) or _host(req.get("initiator") or "") in LOCAL_HOSTS


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in INTERNAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


def find_chromium() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("chromium not found: run scripts/install_chromium.sh (apt-get install chromium)")


def check_page(chromium: str, site: _Server, trap: _Server, root: Path, rel: str,
               budget_ms: int) -> tuple[list[str], dict]:
    problems: list[str] = []
    source = (root / rel).read_text(encoding="utf-8", errors="replace")
    n_widget_views = source.count("application/vnd.jupyter.widget-view+json")
    has_math = 'class="math' in source
    site_start = len(site.requests)
    trap_start = len(trap.requests)
    with tempfile.TemporaryDirectory(prefix="browser_check_") as tmp:
        netlog = Path(tmp) / "netlog.json"
        url = f"http://127.0.0.1:{site.server_address[1]}/{rel}"
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
               f"--proxy-server=http://127.0.0.1:{trap.server_address[1]}",
               f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
               f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        dom = run.stdout
        requests = netlog_requests(netlog)
    if run.returncode != 0 or not dom.strip():
        problems.append(f"chromium failed (rc={run.returncode}): {run.stderr[-500:]}")
    page_reqs = [r for r in requests if from_page(r)]
    for req in page_reqs:
        if not is_local(req["url"]):
            problems.append(f"outside request from the page: {req['url']}")
    if not page_reqs:
        problems.append("no request of the page found in the NetLog")
    browser_own = sorted({_host(r["url"]) for r in requests if not from_page(r)})
    for path, code in site.requests[site_start:]:
        if code >= 400 and urlsplit(path).path != "/favicon.ico":
            problems.append(f"local request failed: {path} -> {code}")
    rendered = len(re.findall(r'class="[^"]*\bjupyter-widgets\b', dom))
    mjx = dom.count("<mjx-container")
    if n_widget_views:
        if rendered == 0:
            problems.append(f"{n_widget_views} widget view(s) in the page, none rendered")
        if "Error displaying widget" in dom:
            problems.append("'Error displaying widget' in the DOM")
    if has_math:
        if mjx == 0:
            problems.append("math in the page but no <mjx-container> (MathJax did not typeset)")
        if "<mjx-merror" in dom:
            problems.append("MathJax error (<mjx-merror>) in the DOM")
    stats = {"page": rel, "served": len(site.requests) - site_start,
             "page_requests": len(page_reqs),
             "outside_page_requests": sum(not is_local(r["url"]) for r in page_reqs),
             "browser_own_hosts": browser_own,
             "trap_proxy_hits": len(trap.requests) - trap_start,
             "widget_views": n_widget_views,
             "rendered_widget_elements": rendered, "mjx_containers": mjx}
    return problems, stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default="_build/html")
    ap.add_argument("--page", action="append", help="page relative to root (repeatable)")
    ap.add_argument("--budget-ms", type=int, default=10000, help="--virtual-time-budget")
    ap.add_argument("--show-requests", action="store_true", help="print every local request")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    if not root.is_dir():
        print(f"browser_check: site folder not found: {root}", file=sys.stderr)
        return 2
    pages = args.page or [p.relative_to(root).as_posix() for p in site_pages(root)]
    chromium = find_chromium()
    site = _start(functools.partial(_Quiet, directory=str(root)))
    trap = _start(_Trap)
    failed = 0
    try:
        for rel in pages:
            start = len(site.requests)
            problems, stats = check_page(chromium, site, trap, root, rel, args.budget_ms)
            print(("FAIL " if problems else "ok   ") + json.dumps(stats))
            if args.show_requests:
                for path, code in site.requests[start:]:
                    print(f"       {code} {path}")
            for p in problems:
                print(f"    - {p}")
            failed += bool(problems)
    finally:
        site.shutdown()
        trap.shutdown()
    print(f"browser_check: {len(pages) - failed}/{len(pages)} pages ok. "
          "(browser_own_hosts: Chromium's own background traffic, not made by a page; "
          "the trap proxy answered it 403)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
