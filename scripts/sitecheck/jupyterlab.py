"""A JupyterLab server on the loopback interface, and helpers to drive it in headless Chromium.

``lab_server`` starts ``jupyter lab`` from the project's virtual environment on
127.0.0.1 with a random free port and a random token, no browser, and its own
config, data, runtime, settings and workspace folders (nothing of the user's is
read or written). ``--LabApp.expose_app_in_browser`` makes ``window.jupyterapp``
available to the page, so that a test can run the same commands as the menus.
The server runs in its own process group; leaving the ``with`` block ends the
whole group (the server and its kernels).

The page is driven with :class:`sitecheck.browser.DevTools` behind the trap
proxy of :mod:`sitecheck.serve` (loopback is not proxied, so the lab itself is
reachable and nothing else is). The helpers type with real input events
(``Input.insertText``) and click with real mouse events, so ipywidgets sync
their models as they do for a person.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .browser import DevTools


class LabError(RuntimeError):
    """The JupyterLab server did not start, or the page did not do what was asked."""


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path
    log: Path

    def page(self, rel: str) -> str:
        """URL of a document under ``root`` opened in the lab, with the token (it sets the login cookie)."""
        return f"{self.url}/lab/tree/{rel}?token={self.token}"

    def api(self, path: str, timeout: float = 5) -> dict:
        request = urllib.request.Request(f"{self.url}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return json.load(r)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the server's process group (kernels included), then SIGKILL what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the server is gone: make sure no kernel of its group outlives it
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


@contextmanager
def lab_server(root: Path, timeout: float = 90, env: dict | None = None) -> Iterator[Lab]:
    """Run ``jupyter lab`` serving ``root`` on 127.0.0.1 while the block runs."""
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.is_file():
        raise LabError(f"{jupyter} not found: install jupyterlab in the virtual environment")
    root = Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="spprm_lab_", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp)
        token, port = secrets.token_hex(16), free_port()
        lab_env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        cmd = [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.allow_remote_access=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no PyPI look-ups
        ]
        if os.geteuid() == 0:  # containers and CI often run as root
            cmd.append("--allow-root")
        log = home / "lab.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=root, env=lab_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        lab = Lab(f"http://127.0.0.1:{port}", token, root, log)
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    raise LabError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    lab.api("status", timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise LabError(f"jupyter lab did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
                    time.sleep(0.3)
            yield lab
        finally:
            _stop_group(proc)


# -- driving the page -----------------------------------------------------------
def wait_for(dt: DevTools, expression: str, timeout: float, what: str, every: float = 0.25):
    """Evaluate ``expression`` in the page until it is truthy; return its value."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        try:
            value = dt.evaluate(expression)
        except RuntimeError:
            value = None
        if value:
            return value
        dt.pump(every)  # collect console events while waiting
    raise LabError(f"timed out after {timeout:.0f} s waiting for {what} (last value {value!r})")


def click(dt: DevTools, selector: str) -> None:
    """Click the centre of the element with real mouse events (scrolled into view first)."""
    box = dt.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        if (!e) {{ return null; }} e.scrollIntoView({{block: "center"}});
        const r = e.getBoundingClientRect(); return {{x: r.left + r.width / 2, y: r.top + r.height / 2}}; }})()""")
    if not box:
        raise LabError(f"nothing to click: {selector}")
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        dt.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)


#: DevTools key descriptions of the keys a test presses (``Input.dispatchKeyEvent``)
_KEYS = {
    "End": {"key": "End", "code": "End", "windowsVirtualKeyCode": 35},
    "Home": {"key": "Home", "code": "Home", "windowsVirtualKeyCode": 36},
    "ArrowRight": {"key": "ArrowRight", "code": "ArrowRight", "windowsVirtualKeyCode": 39},
}


def press(dt: DevTools, selector: str, key: str) -> None:
    """Focus the element and press ``key`` (one of ``_KEYS``) with real key events."""
    if key not in _KEYS:
        raise LabError(f"no key description for {key!r}; known: {sorted(_KEYS)}")
    found = dt.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        if (!e) {{ return false; }} e.scrollIntoView({{block: "center"}}); e.focus();
        return document.activeElement === e; }})()""")
    if not found:
        raise LabError(f"nothing to focus for a key press: {selector}")
    for kind in ("rawKeyDown", "keyUp"):
        dt.call("Input.dispatchKeyEvent", type=kind, **_KEYS[key])


def type_into(dt: DevTools, selector: str, text: str) -> None:
    """Replace the text of an input or textarea as a person would: focus it, select all, type."""
    found = dt.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
        if (!e) {{ return false; }} e.scrollIntoView({{block: "center"}}); e.focus(); e.select(); return true; }})()""")
    if not found:
        raise LabError(f"nothing to type into: {selector}")
    dt.call("Input.insertText", text=text)
    # leave the field like a person does (a widget that syncs on blur/change gets its value too)
    dt.evaluate(f"document.querySelector({json.dumps(selector)}).blur()")


def choose(dt: DevTools, selector: str, index: int) -> str:
    """Pick option ``index`` of a ``<select>`` (as the keyboard does: set it, fire input and change)."""
    label = dt.evaluate(f"""(() => {{ const s = document.querySelector({json.dumps(selector)});
        if (!s) {{ return null; }} s.focus(); s.selectedIndex = {int(index)};
        s.dispatchEvent(new Event("input", {{bubbles: true}}));
        s.dispatchEvent(new Event("change", {{bubbles: true}}));
        return s.options[s.selectedIndex].textContent; }})()""")
    if label is None:
        raise LabError(f"no select: {selector}")
    return label


def element_screenshot(dt: DevTools, path: Path, selector: str | None = None, pad: int = 8) -> None:
    """PNG of the viewport, or of one element scrolled into view (cut to the viewport)."""
    clip = None
    if selector:
        clip = dt.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) {{ return null; }} e.scrollIntoView({{block: "start"}});
            const r = e.getBoundingClientRect();
            const x = Math.max(0, r.left - {pad}), y = Math.max(0, r.top - {pad});
            return {{x: x, y: y, width: Math.min(innerWidth - x, r.width + 2 * {pad}),
                     height: Math.min(innerHeight - y, r.height + 2 * {pad}), scale: 1}}; }})()""")
    params = {"format": "png"}
    if clip:
        params["clip"] = clip
    shot = dt.call("Page.captureScreenshot", **params)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
