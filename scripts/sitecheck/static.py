"""Static checks of a built site: no outside request, no missing local file.

Every ``.html`` page under the folder is parsed (standard library only) and every
URL the browser would *fetch* is checked:

* ``src`` / ``href`` / ``srcset`` / ``poster`` / ``data`` of script, link, img,
  iframe, source, video, audio, track, embed, object, input and SVG image tags,
  the target of a ``<meta http-equiv="refresh">``, and CSS ``url(...)`` /
  ``@import`` in ``<style>`` blocks, ``style=""`` attributes and every ``.css``
  file of the site.
* A URL that names a scheme and/or host (``https://cdn...``, ``//cdn...``,
  ``file:///...``) is a problem; ``data:``, ``blob:`` and ``about:`` are fine.
* A local URL (relative, or absolute from the site root) in an HTML tag or a
  meta refresh must point to a file that exists in the build (query string and
  fragment ignored, ``dir/`` means ``dir/index.html``). Local ``url(...)`` in
  CSS must exist too.

HTML files under ``_static/`` that contain Jinja markup (``{{`` / ``{%``) are
theme template fragments copied verbatim (e.g. ``webpack-macros.html``), not
pages, and are skipped.

Plain ``<a href>`` links are not checked: following a link is the reader's
choice, not a request the page makes.

:func:`check_site` returns the problems (for pytest and ``build_book.py``);
:func:`report` prints them for the command line and gives its exit status.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

# Tag -> attributes that make the browser fetch something.
FETCH_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "image": ("href", "xlink:href"),  # SVG <image>
}
SRCSET_ATTRS = {"srcset"}
SAFE_SCHEMES = {"data", "blob", "about"}

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_REFRESH_URL = re.compile(r"""url\s*=\s*['"]?([^'"\s;]+)""", re.I)


class Problem(NamedTuple):
    """One offending reference: the page (or CSS file), the URL, and why."""

    page: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.url} ({self.reason})"


def is_outside(url: str) -> bool:
    """True if fetching ``url`` would leave the site (scheme and/or host given)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in SAFE_SCHEMES:
        return False
    return bool(scheme) or bool(parts.netloc) or url.strip().startswith("//")


def _split_srcset(value: str) -> list[str]:
    urls = []
    for candidate in value.split(","):
        candidate = candidate.strip()
        if candidate:
            urls.append(candidate.split()[0])
    return urls


def css_urls(css: str) -> list[str]:
    """URLs referenced by ``url(...)`` and ``@import "..."`` in a CSS text."""
    css = _CSS_COMMENT.sub("", css)
    found = []
    for regex in (_CSS_URL, _CSS_IMPORT):
        for match in regex.finditer(css):
            url = next((g for g in match.groups() if g is not None), "")
            if url.strip():
                found.append(url.strip())
    return found


class _PageParser(HTMLParser):
    """Collect (url, kind) pairs; kind is 'tag' or 'css'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {k.lower(): (v or "") for k, v in attrs}
        for attr in FETCH_ATTRS.get(tag, ()):
            value = values.get(attr, "").strip()
            if not value:
                continue
            if attr in SRCSET_ATTRS:
                self.refs.extend((u, "tag") for u in _split_srcset(value))
            else:
                self.refs.append((value, "tag"))
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            match = _REFRESH_URL.search(values.get("content", ""))
            if match:
                self.refs.append((match.group(1), "tag"))
        if values.get("style"):
            self.refs.extend((u, "css") for u in css_urls(values["style"]))
        if tag == "style":
            self._in_style = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() == "style":
            self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag.lower() == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.refs.extend((u, "css") for u in css_urls(data))


def _local_target(root: Path, base_dir: Path, url: str) -> Path | None:
    """The file a local URL points to, or None for a same-page reference."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if not path:  # "#anchor" or "?query": the page itself
        return None
    target = (root / path.lstrip("/")) if path.startswith("/") else (base_dir / path)
    if path.endswith("/"):
        target = target / "index.html"
    return target


def _check_refs(root: Path, source: Path, refs: Iterable[tuple[str, str]]) -> Iterator[Problem]:
    rel = source.relative_to(root).as_posix()
    seen: set[str] = set()
    for url, kind in refs:
        if url in seen:
            continue
        seen.add(url)
        if is_outside(url):
            yield Problem(
                rel,
                url,
                "outside host"
                if urlsplit(url).netloc or url.startswith("//")
                else f"absolute {urlsplit(url).scheme}: URL",
            )
            continue
        if urlsplit(url).scheme.lower() in SAFE_SCHEMES:
            continue
        target = _local_target(root, source.parent, url)
        if target is None:
            continue
        try:
            inside = target.resolve().is_relative_to(root.resolve())
        except OSError:
            inside = False
        if not inside:
            yield Problem(rel, url, "points outside the site folder")
        elif not target.is_file():
            yield Problem(rel, url, "missing file" if kind == "tag" else "missing file (CSS)")


def check_page(root: Path, page: Path) -> list[Problem]:
    """Problems of one HTML page (``page`` must lie under ``root``)."""
    parser = _PageParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return list(_check_refs(root, page, parser.refs))


def check_css(root: Path, css_file: Path) -> list[Problem]:
    """Problems of one CSS file: outside URLs and missing local files."""
    refs = [(u, "css") for u in css_urls(css_file.read_text(encoding="utf-8", errors="replace"))]
    return list(_check_refs(root, css_file, refs))


_JINJA = re.compile(r"\{\{|\{%")


def is_template(root: Path, page: Path) -> bool:
    """True for a theme's Jinja fragment copied into _static/ (not a served page)."""
    rel = page.relative_to(root).parts
    if not rel or rel[0] != "_static":
        return False
    return bool(_JINJA.search(page.read_text(encoding="utf-8", errors="replace")))


def site_pages(root: Path) -> list[Path]:
    """The HTML pages of a built site (template fragments left out)."""
    return [p for p in sorted(root.rglob("*.html")) if not is_template(root, p)]


def check_site(root: str | Path) -> list[Problem]:
    """All problems of a built site; raises FileNotFoundError / ValueError on bad input."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"site folder not found: {root}")
    pages = site_pages(root)
    if not pages:
        raise ValueError(f"no .html pages under {root}")
    problems: list[Problem] = []
    for page in pages:
        problems.extend(check_page(root, page))
    for css_file in sorted(root.rglob("*.css")):
        problems.extend(check_css(root, css_file))
    return problems


def report(root: str | Path) -> int:
    """Print the problems of a site, one ``page: URL (reason)`` a line.

    Returns 0 when clean, 1 when problems were found, 2 on bad input
    (missing folder, no HTML pages).
    """
    root = Path(root)
    try:
        problems = check_site(root)
    except (FileNotFoundError, ValueError) as err:
        print(f"check_site: {err}", file=sys.stderr)
        return 2
    n_pages = len(site_pages(root))
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_site: {len(problems)} problem(s) in {root} ({n_pages} pages)", file=sys.stderr)
        return 1
    print(f"check_site: OK, {n_pages} pages in {root}, no outside request, no missing local file")
    return 0
