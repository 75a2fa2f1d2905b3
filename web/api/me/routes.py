"""``GET /api/v1/me``: who the session cookie belongs to."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import Role, User
from web.api.me.schemas import MeSchema
from web.api.schemas import ErrorSchema
from web.auth import current_account, guard_blueprint

blp = Blueprint("me", __name__, url_prefix="/me", description="The signed-in user")
guard_blueprint(blp, *Role)


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    def get(self) -> User | None:
        """Who am I

        The account signed in with this session cookie.
        """
        return current_account()
