"""``/api/v1/me/choices``: the signed-in person's ranked choices in their open round."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.people import PersonProfile
from web.api.me_choices.schemas import ChoicesPutSchema, MyChoicesSchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import choice_lists, choices
from web.services.errors import ServiceError

blp = Blueprint(
    "me_choices",
    __name__,
    url_prefix="/me/choices",
    description="The signed-in person's choices in the open round",
)
guard_blueprint(blp, Role.person)


def _me() -> tuple[User, PersonProfile]:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in persons through
    if user.person_profile is None:
        abort(404, description="You have no profile yet. Ask the council.")
    return user, user.person_profile


def _dump(mine: choices.MyChoices) -> dict[str, Any]:
    return {
        "round": mine.round,
        "choices": [
            {
                "rank": c.choice.rank,
                "offer_id": c.offer.id,
                "offer_name": c.offer.title,
                "places": c.places,
                "chosen_by": c.chosen_by,
                "oversubscribed": c.oversubscribed,
            }
            for c in mine.choices
        ],
        "all_oversubscribed": mine.all_oversubscribed,
    }


@blp.route("")
class MyChoices(MethodView):
    @blp.response(200, MyChoicesSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not a person")
    def get(self) -> dict[str, Any]:
        """My choices"""
        user, person = _me()
        try:
            return _dump(choices.my_choices(get_session(), user, person))
        except ServiceError as error:
            abort_for(error)

    @blp.arguments(ChoicesPutSchema)
    @blp.response(200, MyChoicesSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not a person")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="No round is open for choices, the round allows fewer choices, or an "
        "offer cannot be chosen (errors name offer_ids)",
    )
    @blp.alt_response(422, schema=ErrorSchema, description="Not a list of offer ids, each once")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set my choices

        Replaces the whole list. Each offer must be in the open round, fit the person and cost
        no more than the budget left; the list is taken whole or not at all.
        """
        user, person = _me()
        db = get_session()
        try:
            mine = choice_lists.replace_choices(db, user, person, body["offer_ids"])
        except ServiceError as error:
            db.rollback()
            abort_for(error)
        db.commit()
        return _dump(mine)
