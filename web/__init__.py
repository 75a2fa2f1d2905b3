"""The Tapestry web app: ``create_app(overrides=None)``, defined in :mod:`web.app` (its
settings are listed there).

``create_app`` is loaded on first use, so that ``tapestry solve`` and ``tapestry generate``,
whose command group lives in :mod:`web.cli`, start without loading Flask and SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web.app import DEFAULTS, create_app

__all__ = ["DEFAULTS", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from web import app

        return getattr(app, name)
    raise AttributeError(f"module 'web' has no attribute {name!r}")
