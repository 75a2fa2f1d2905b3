"""``GET /api/v1/me/export``: everything Tapestry holds about the signed-in user, as JSON."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from models.accounts import Role
from web.api.schemas import ErrorSchema
from web.auth import current_account, guard_blueprint
from web.pages.privacy import export_response

blp = Blueprint("me_export", __name__, url_prefix="/me/export", description="A copy of all my data")
guard_blueprint(blp, *Role)


@blp.route("")
class MyExport(MethodView):
    @blp.response(
        200,
        {"type": "object", "description": "The export: format, tables of rows, related offers"},
        content_type="application/json",
    )
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    def get(self) -> Response:
        """Download my data

        Every record that refers to me, table by table (the same file as the site's
        "Download my data" page).
        """
        user = current_account()
        assert user is not None  # guard_blueprint let only signed-in users through
        return export_response(user)
