"""Unit tests of scripts/sitecheck (static checks, command line) on small synthetic sites (no book build)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sitecheck import browser
from sitecheck import static as cso

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SCRIPT = SCRIPTS / "check_site.py"


def make_site(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def urls(problems):
    return sorted(p.url for p in problems)


def test_outside_script_src_is_flagged(tmp_path):
    site = make_site(
        tmp_path,
        {
            "index.html": page("", '<script src="https://cdn.jsdelivr.net/npm/x/embed-amd.js"></script>'),
        },
    )
    problems = cso.check_site(site)
    assert urls(problems) == ["https://cdn.jsdelivr.net/npm/x/embed-amd.js"]
    assert problems[0].page == "index.html"
    assert problems[0].reason == "outside host"


@pytest.mark.parametrize(
    "html",
    [
        '<script src="//unpkg.com/thebe/lib/index.js"></script>',
        '<link rel="stylesheet" href="http://fonts.googleapis.com/css?family=Lato">',
        '<img srcset="_static/a.png 1x, https://example.org/b.png 2x" src="_static/a.png">',
        '<iframe src="https://www.youtube.com/embed/x"></iframe>',
        '<video poster="https://example.org/p.png"></video>',
        "<div style=\"background: url('https://example.org/bg.png')\"></div>",
        '<style>@import "https://example.org/x.css";</style>',
        '<script src="file:///home/me/require.js"></script>',
    ],
)
def test_other_outside_references_are_flagged(tmp_path, html):
    make_site(tmp_path, {"index.html": page(html), "_static/a.png": "png"})
    problems = cso.check_site(tmp_path)
    assert len(problems) == 1, problems


def test_relative_and_data_references_are_ok(tmp_path):
    site = make_site(
        tmp_path,
        {
            "book/intro.html": page(
                '<img src="../_static/fig.png?v=1#x">'
                '<img src="data:image/png;base64,iVBORw0KGgo=">'
                '<div style="background:url(data:image/svg+xml;utf8,<svg/>)"></div>'
                '<a href="#top">top</a>',
                '<script src="../_static/require.js?v=3ab1b5fa"></script>'
                '<link rel="stylesheet" href="/_static/site.css">',
            ),
            "_static/fig.png": "png",
            "_static/require.js": "//",
            "_static/site.css": "@font-face{src:url(fonts/x.woff2) format('woff2')}"
            ' .a{background:url("data:image/png;base64,AAAA")}',
            "_static/fonts/x.woff2": "font",
        },
    )
    assert cso.check_site(site) == []


def test_missing_local_image_is_flagged(tmp_path):
    make_site(tmp_path, {"a/page.html": page('<img src="../figures/missing.png">')})
    problems = cso.check_site(tmp_path)
    assert urls(problems) == ["../figures/missing.png"]
    assert problems[0].reason == "missing file"
    assert problems[0].page == "a/page.html"


def test_missing_font_in_css_file_is_flagged(tmp_path):
    make_site(
        tmp_path,
        {
            "index.html": page("", '<link rel="stylesheet" href="s.css">'),
            "s.css": "/* url(commented-out.woff) */ @font-face{src:url('gone.woff2')}",
        },
    )
    assert [(p.page, p.url) for p in cso.check_site(tmp_path)] == [("s.css", "gone.woff2")]


def test_outside_anchor_links_are_allowed(tmp_path):
    make_site(
        tmp_path,
        {
            "index.html": page(
                '<a href="https://arxiv.org/abs/2506.12446">paper</a>'
                '<a href="mailto:someone@example.org">mail</a>'
                '<a href="does-not-exist.html">local link</a>'
            )
        },
    )
    assert cso.check_site(tmp_path) == []


def test_meta_refresh_target_must_exist(tmp_path):
    make_site(
        tmp_path,
        {
            "index.html": page("", '<meta http-equiv="Refresh" content="0; url=book/intro.html" />'),
        },
    )
    assert urls(cso.check_site(tmp_path)) == ["book/intro.html"]
    make_site(tmp_path, {"book/intro.html": page("")})
    assert cso.check_site(tmp_path) == []


def test_theme_template_fragments_are_skipped(tmp_path):
    make_site(
        tmp_path,
        {
            "index.html": page(""),
            "_static/webpack-macros.html": "{% macro head() %}<script src=\"{{ pathto('_static/x.js', 1) }}\"></script>{% endmacro %}",
        },
    )
    assert cso.check_site(tmp_path) == []


def test_reference_escaping_the_site_is_flagged(tmp_path):
    (tmp_path / "outside.js").write_text("//")
    site = make_site(tmp_path / "site", {"index.html": page('<script src="../outside.js"></script>')})
    assert [p.reason for p in cso.check_site(site)] == ["points outside the site folder"]


def test_bad_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        cso.check_site(tmp_path / "nope")
    with pytest.raises(ValueError):
        cso.check_site(tmp_path)


def run_cli(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_command_line_exit_codes(tmp_path):
    bad = make_site(tmp_path / "bad", {"index.html": page('<script src="https://x.org/a.js"></script>')})
    good = make_site(tmp_path / "good", {"index.html": page("")})
    r = run_cli("static", str(bad))
    assert r.returncode == 1 and "index.html: https://x.org/a.js (outside host)" in r.stdout
    assert run_cli("static", str(good)).returncode == 0
    assert run_cli("static", str(tmp_path / "missing")).returncode == 2
    assert run_cli().returncode == 2  # no subcommand


def test_browser_command_runs_the_static_checks_first(tmp_path):
    """No Chromium needed: a missing site or a static problem stops before the browser starts."""
    assert run_cli("browser", str(tmp_path / "missing")).returncode == 2
    bad = make_site(tmp_path / "bad", {"index.html": page('<img src="gone.png">')})
    r = run_cli("browser", str(bad), "--force")
    assert r.returncode == 1 and "index.html: gone.png (missing file)" in r.stdout


def test_browser_command_remembers_a_pass(tmp_path):
    site = make_site(tmp_path / "html", {"index.html": page("")})
    shots = make_site(tmp_path / "shots", {name: "png" for name in browser.SHOTS})
    stamp = tmp_path / browser.STAMP_NAME
    stamp.write_text(browser.site_digest(site.resolve(), ["index.html"]))
    r = run_cli("browser", str(site), "--screenshots", str(shots))
    assert r.returncode == 0 and "passed before and is unchanged" in r.stdout
    digest = stamp.read_text()
    (site / "index.html").write_text(page("changed"))
    assert browser.site_digest(site.resolve(), ["index.html"]) != digest  # a changed site is tested again


def test_sideways_scrolling_is_found_at_1280_px(tmp_path):
    """The results overview must read at 1280 px: a table too wide for its box is caught, a narrow one is not."""
    from sitecheck import serve

    try:
        serve.find_chromium()
    except serve.ChromiumError as err:
        pytest.skip(f"no Chromium: {err}")
    cells = "".join(f"<td>{'x' * 40}{i}</td>" for i in range(12))  # 12 unbreakable words: about 3,500 px
    wide_box = f'<div style="overflow-x: auto"><table><tr>{cells}</tr></table></div>'
    narrow = "<table><tr>" + "".join(f"<td>{'word ' * 8}</td>" for _ in range(6)) + "</tr></table>"
    site = make_site(
        tmp_path,
        {
            "narrow.html": page(f"<article>{narrow}</article>"),
            "boxed.html": page(f"<article>{wide_box}</article>"),
            "wide.html": page(f"<article><table><tr>{cells}</tr></table></article>"),
        },
    )
    found = {}
    with serve.site_and_trap(site) as (server, trap), serve.chromium(trap.server_address[1]) as ws_url:
        dt = browser.DevTools(ws_url)
        try:
            for domain in ("Page", "Runtime"):
                dt.call(f"{domain}.enable")
            dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
            for name in ("narrow", "boxed", "wide"):
                start = len(dt.events)
                dt.call("Page.navigate", url=f"{server.base_url}/{name}.html")
                assert dt.wait_loaded(start, 30)
                found[name] = browser.sideways(dt)
        finally:
            dt.close()
    assert found["narrow"] == []
    assert any(p.startswith("div scrolls sideways") for p in found["boxed"]), found["boxed"]
    assert any(p.startswith("the page is") for p in found["wide"]) and any("table" in p for p in found["wide"])
