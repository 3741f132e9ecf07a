#!/usr/bin/env python3
"""Check the built book site: statically, or in headless Chromium too.

Usage:
  python scripts/check_site.py static [_build/html]
  python scripts/check_site.py browser [_build/html] [--page REL.html ...] [--screenshots DIR] [--force]

``static`` parses every page and CSS file: no URL the browser would fetch
names an outside host, every local file referenced exists
(``scripts/sitecheck/static.py``). Exit 0 when clean, 1 on problems (printed
as ``page: URL (reason)``), 2 on bad input (missing folder, no HTML pages).

``browser`` runs the static checks, then opens every page in headless
Chromium behind a proxy that blocks outside hosts: no outside request, no
console error, no failed load or missing image, widgets and math rendered; it
drives the static prefix probe and saves screenshots
(``scripts/sitecheck/browser.py``; ``make book`` runs it). A pass is
remembered in ``ROOT/../.browser-test-ok``. Exit 0 when all passed, 1 on any
problem (each named ``error: PAGE (URL): what``), 2 when there is no built site.
"""

from __future__ import annotations

import argparse
import sys

from sitecheck import browser, static  # scripts/sitecheck, beside this script


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    st = sub.add_parser("static", help="parse the HTML: no outside URL, no missing local file")
    st.add_argument("root", nargs="?", default="_build/html")
    br = sub.add_parser("browser", help="the static checks, then every page in headless Chromium")
    br.add_argument("root", nargs="?", default="_build/html")
    br.add_argument("--page", action="append", help="only this page, relative to root (repeatable)")
    br.add_argument("--probe-page", default=browser.PROBE_PAGE)
    br.add_argument("--results-page", default=browser.RESULTS_PAGE)
    br.add_argument("--screenshots", default=None, help="folder for screenshots (default: ROOT/../screenshots)")
    br.add_argument("--timeout", type=float, default=30.0, help="seconds for a page to load")
    br.add_argument("--force", action="store_true", help="test even when the site passed unchanged before")
    args = ap.parse_args(argv)
    if args.command == "static":
        return static.report(args.root)
    return browser.run(
        args.root, args.page, args.probe_page, args.results_page, args.screenshots, args.timeout, args.force
    )


if __name__ == "__main__":
    sys.exit(main())
