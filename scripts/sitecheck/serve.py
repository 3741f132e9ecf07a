"""The local site server, the trap proxy and headless Chromium with DevTools.

The site is served from 127.0.0.1 by ``http.server`` in a thread. Chromium is
pointed at a *trap proxy*, a local server that answers 403 to everything, so a
request to an outside host never leaves the machine (loopback bypasses the
proxy). Chromium's own background traffic (component updater, network time,
account checks) stays on even with ``--disable-background-networking``; the
trap answers it too.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--no-pings",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
]
LOCAL_HOSTS = {"127.0.0.1"}
INTERNAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools", "chrome-error"}


class ChromiumError(RuntimeError):
    """Chromium is missing, or did not start."""


def is_local(url: str) -> bool:
    """True for a URL of the local site or one that stays inside the browser (``data:``, ...)."""
    parts = urlsplit(url)
    return parts.scheme in INTERNAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site's files, without a log line per request on stderr."""

    def log_message(self, *args) -> None:
        pass


class TrapHandler(http.server.BaseHTTPRequestHandler):
    """Answers 403 to any proxied request (GET, CONNECT, ...) and records it."""

    def handle_one_request(self) -> None:
        # Overridden rather than do_GET & co: CONNECT and any other method must be trapped too.
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_error(403, "offline: outside request blocked by check_site")
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    """A threaded server on a free port of 127.0.0.1; ``requests`` is for the handler to fill."""

    def __init__(self, handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@contextmanager
def site_and_trap(root: Path) -> Iterator[tuple[Server, Server]]:
    """Serve ``root`` and run the trap proxy while the block runs."""
    site = Server(functools.partial(SiteHandler, directory=str(root)))
    trap = Server(TrapHandler)
    try:
        yield site, trap
    finally:
        site.stop()
        trap.stop()


def find_chromium() -> str:
    """Path of the Chromium (or Chrome) executable; raises ChromiumError when there is none."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumError("chromium not found: run scripts/install_chromium.sh (apt-get install chromium)")


def _page_websocket(proc: subprocess.Popen, profile: Path, timeout: float) -> str:
    active = profile / "DevToolsActivePort"  # Chromium writes the port it picked here
    deadline = time.time() + timeout
    while time.time() < deadline:
        if active.is_file() and len(active.read_text().split()) >= 2:
            port = int(active.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if targets:
                return targets[0]["webSocketDebuggerUrl"]
        if proc.poll() is not None:
            raise ChromiumError(f"chromium exited with {proc.returncode}")
        time.sleep(0.2)
    raise ChromiumError(f"chromium did not open its DevTools port in {timeout:.0f} s")


@contextmanager
def chromium(trap_port: int, timeout: float = 60) -> Iterator[str]:
    """Run headless Chromium behind the trap proxy; yield the DevTools websocket URL of its page."""
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="check_site_", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp) / "profile"
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--proxy-server=http://127.0.0.1:{trap_port}",
            "--window-size=1280,900",
            "--hide-scrollbars",
            "about:blank",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield _page_websocket(proc, profile, timeout)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
