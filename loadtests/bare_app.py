"""A bare Flask endpoint, served the same way as Tapestry, for the load test's throughput ratio.

``gunicorn loadtests.bare_app:app`` answers ``GET /ping`` with a small JSON body and nothing
else: no database, no session, no templates. What it manages per second on this machine is
the ceiling for any Flask app served this way; ``run_load.py`` reports Tapestry's throughput
as a share of it.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return jsonify({"ok": True})
