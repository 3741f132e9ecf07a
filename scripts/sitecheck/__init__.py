"""Checks of the built book site; the command line is ``scripts/check_site.py``.

* :mod:`sitecheck.static`: parse the HTML, no outside URL fetched, local references exist;
* :mod:`sitecheck.serve`: the local site server, the trap proxy and headless Chromium;
* :mod:`sitecheck.browser`: every page in Chromium driven through the DevTools protocol.
"""
