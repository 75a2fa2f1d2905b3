"""``/api/v1/me/profile``: the signed-in person reads and changes their "About me"."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_smorest import Blueprint

from models.accounts import User
from models.people import PersonProfile
from web.api.me_profile.schemas import ProfilePatchSchema, ProfileSchema
from web.api.schemas import ErrorSchema
from web.api.service_errors import abort_for
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import profiles
from web.services.consents import person_reference
from web.services.errors import ServiceError

blp = Blueprint(
    "me_profile", __name__, url_prefix="/me/profile", description="The signed-in person's profile"
)
guard_blueprint(blp, Role.person)


def _me() -> tuple[User, PersonProfile]:
    user = current_account()
    assert user is not None  # guard_blueprint let only signed-in persons through
    if user.person_profile is None:
        abort(404, description="You have no profile yet. Ask the council.")
    return user, user.person_profile


def _dump(person: PersonProfile) -> dict[str, Any]:
    return {
        "id": person.id,
        "reference": person_reference(person),
        "display_name": person.display_name,
        "area": person.area,
        "age_band": person.age_band,
        "assessed_needs": person.assessed_needs,
        "need_level": person.need_level,
        "aspirations_text": person.aspirations_text,
        "outcome_tags": person.outcome_tags,
        "max_travel_km": person.max_travel_km,
        "availability": person.availability or {},
        "postcode": person.postcode,
    }


@blp.route("")
class MyProfile(MethodView):
    @blp.response(200, ProfileSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not a person")
    def get(self) -> dict[str, Any]:
        """My profile"""
        user, person = _me()
        try:
            profiles.about_me(get_session(), user, person)
        except ServiceError as error:
            abort_for(error)
        return _dump(person)

    @blp.arguments(ProfilePatchSchema)
    @blp.response(200, ProfileSchema)
    @blp.doc(security=[{"sessionCookie": []}])
    @blp.alt_response(401, schema=ErrorSchema, description="Not signed in")
    @blp.alt_response(403, schema=ErrorSchema, description="Not a person")
    @blp.alt_response(422, schema=ErrorSchema, description="A field is not valid")
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change my profile

        Only the fields sent change. Needs, need level and area are set by the council.
        """
        user, person = _me()
        db = get_session()
        current = _dump(person)
        try:
            profiles.update_about_me(
                db,
                user,
                person,
                aspirations_text=changes.get("aspirations_text", current["aspirations_text"]) or "",
                tag_slugs=changes.get("outcome_tags", [t.slug for t in person.outcome_tags]),
                max_travel_km=changes.get("max_travel_km", current["max_travel_km"]),
                availability=changes.get("availability", current["availability"]),
                # Not sent: left as it is (None); null: taken away (blank).
                postcode=(changes["postcode"] or "") if "postcode" in changes else None,
            )
        except ServiceError as error:
            db.rollback()
            abort_for(error, {"tags": "outcome_tags"})
        db.commit()
        return _dump(person)
