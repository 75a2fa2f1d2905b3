"""The WSGI entry point for servers: ``gunicorn 'web.wsgi:app'``.

Configuration comes from ``TAPESTRY_*`` environment variables (see ``web/app.py``).
"""

from __future__ import annotations

from web import create_app

app = create_app()
