"""Reads of special-category data go to the audit trail, declared per endpoint in one place.

Assessed needs, need levels and equity-monitoring attributes are special-category data (health,
ethnicity...). Every answer that shows them to someone other than the person, every API answer
that carries them, and every download or page built from them is recorded as a
``special_category.read`` event: who read (actor), for whom when acting for someone
(on-behalf-of), what (object), when, and the request id (``models.audit.current_request_id``).

``SPECIAL_CATEGORY_READS`` maps an endpoint to a function that says what was read, or None
when nothing special was shown (for example the person reading their own page). The event is
appended and committed after an answer that showed the data (200, or a page form shown again
with its errors), so a refused, failed or redirected request records nothing. A new page that
shows such data must be added here; ``tests/security/test_audit.py`` checks every endpoint
listed records its read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

from models.audit import append_event
from web.auth import current_account
from web.db import get_session


@dataclass(frozen=True)
class Read:
    """What one answer showed: the object, whose data it is, and which fields."""

    object_type: str
    object_id: int | str
    fields: tuple[str, ...]
    on_behalf_of_user_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


PROFILE_FIELDS = ("assessed_needs", "need_level")
ALL_FIELDS = ("assessed_needs", "need_level", "equity_attributes")


def _acting_profile() -> Read | None:
    consent = g.get("acting_consent")
    if consent is None:
        return None
    person = consent.person
    return Read("person_profile", person.id, PROFILE_FIELDS, person.user_id, {"via": "page"})


def _own_profile_api() -> Read | None:
    user = current_account()
    if user is None or user.person_profile is None:
        return None
    return Read("person_profile", user.person_profile.id, PROFILE_FIELDS, None, {"via": "api"})


def _own_export() -> Read | None:
    user = current_account()
    if user is None:
        return None
    profile_id = user.person_profile.id if user.person_profile is not None else None
    return Read("user", user.id, ALL_FIELDS, None, {"person_id": profile_id, "via": "export"})


def _run(kind: str) -> Callable[[], Read | None]:
    """A run's instance (each person's need and equity groups) or its results by group."""

    def read() -> Read | None:
        args = request.view_args or {}
        return Read(
            "solver_run",
            int(args["run_id"]),
            ("need_level", "equity_attributes"),
            None,
            {"round_id": args.get("round_id"), "view": kind},
        )

    return read


def _compare() -> Read | None:
    args = request.view_args or {}
    return Read(
        "round",
        int(args["round_id"]),
        ("need_level", "equity_attributes"),
        None,
        {"view": "compare runs by group"},
    )


SPECIAL_CATEGORY_READS: dict[str, Callable[[], Read | None]] = {
    # An advocate acting for a person sees their needs on About me.
    "advocate_acting.about_me": _acting_profile,
    # The API's profile answers carry the needs, also to the person themselves.
    "me_profile.MyProfile": _own_profile_api,
    # A person's export holds everything, special categories included.
    "my_data.download": _own_export,
    "my_data.read": _own_export,
    "my_data.printable": _own_export,
    "me_export.MyExport": _own_export,
    # Commissioners: the instance download (per person) and results by need and group.
    "commissioner.run_instance": _run("instance download"),
    "rounds.RunInstance": _run("instance download"),
    "commissioner.run_page": _run("results by group"),
    "commissioner.compare": _compare,
}


def init_app(app: Flask) -> None:
    app.after_request(_record_special_category_read)


def _record_special_category_read(response: Response) -> Response:
    describe = SPECIAL_CATEGORY_READS.get(request.endpoint or "")
    # Shown: a page or answer (200), or a form page shown again with its errors (400).
    status = response.status_code
    shown = status == 200 or (status == 400 and not request.path.startswith("/api/"))
    if describe is None or not shown or g.get("database_down"):
        return response
    actor = current_account()
    read = describe()
    if actor is None or read is None:
        return response
    session = get_session()
    append_event(
        session,
        "special_category.read",
        actor_user_id=actor.id,
        on_behalf_of_user_id=read.on_behalf_of_user_id,
        object_type=read.object_type,
        object_id=read.object_id,
        request_id=g.get("request_id"),
        details={"fields": list(read.fields), "method": request.method, **read.details},
    )
    session.commit()
    return response
