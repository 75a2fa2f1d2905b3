"""What the load test reads from Tapestry's pages: CSRF and form tokens, links and fields.

Kept apart from ``locustfile.py`` (which imports locust, and so gevent's monkey-patching) so
that ``tests/load`` can check these against the real pages without importing locust.
"""

from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
OFFER_LINK = re.compile(r'href="/person/services/(\d+)"')
CAPACITY_LINK = re.compile(r'href="/provider/offers/(\d+)/capacity"')
CAPACITY_VALUE = re.compile(r'name="capacity"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="capacity"')
CHOICE_FORM = re.compile(r'action="/person/choices/(\d+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise ValueError("no CSRF token on the page")
    return next(group for group in match.groups() if group)


def form_token(html: str) -> str:
    """The one-time token of the page's first form (a form posts it once, as a browser does)."""
    match = FORM_TOKEN.search(html)
    if match is None:
        raise ValueError("no form token on the page")
    return match.group(1)
