"""Letting browsers and shared caches keep public answers that are the same for everyone.

Every other answer is ``Cache-Control: no-store`` (``web.security``). A view whose answer holds
nothing about the person asking calls :func:`cache_publicly`: the answer gets a strong ETag
of its body, ``Cache-Control: public, max-age=...`` and a 304 for a matching
``If-None-Match``. A page that shows who is signed in is cached publicly only when nobody is,
and says ``Vary: Cookie`` so a cache never gives one visitor's copy to another.
"""

from __future__ import annotations

from flask import Response, after_this_request, g, request

from web.auth import current_account

#: Figures change when a round is published or an offer changes: five minutes is fresh enough.
MAX_AGE_S = 300


def cache_publicly(*, max_age: int = MAX_AGE_S, page: bool = False) -> None:
    """Mark this request's answer as public and cacheable (see the module's docstring)."""
    if page and current_account() is not None:
        return
    g.cache_control = f"public, max-age={max_age}"

    @after_this_request
    def conditional(response: Response) -> Response:
        if response.status_code != 200:
            g.cache_control = None
            return response
        if page:
            response.vary.add("Cookie")
        response.add_etag()
        return response.make_conditional(request)
