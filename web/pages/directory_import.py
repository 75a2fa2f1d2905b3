"""Import an Open Referral UK directory from a page: commissioners for their council, providers
for their own organisation (``web.services.openreferral_import`` does the work).

The form takes a feed's web address or a JSON file. Posting it imports at once and redirects to
the import's report (created, updated, unchanged and refused records, with reasons), kept so
the page can be read again. Posting the same feed twice changes nothing the second time: the
import is keyed on the feed's ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.accounts import Council, User
from models.providers import Provider
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services.errors import NotFound
from web.services.openreferral_import import (
    SourceProblem,
    UnstorableText,
    import_services,
    parse_json,
    read_feed,
    record_import,
    recorded_import,
    services_in,
)
from web.services.providers import provider_for

commissioner_bp = Blueprint("commissioner_import", __name__, url_prefix="/commissioner/directory")
guard_blueprint(commissioner_bp, Role.commissioner)
provider_bp = Blueprint("provider_import", __name__, url_prefix="/provider/directory")
guard_blueprint(provider_bp, Role.provider)

ADDRESS_MAX = 2000


def init_app(app: Any) -> None:
    app.register_blueprint(commissioner_bp)
    app.register_blueprint(provider_bp)


def _actor() -> User:
    user = current_account()
    assert user is not None  # the blueprint's guard let only signed-in users through
    return user


def _council(user: User) -> Council:
    council = get_session().get(Council, user.council_id) if user.council_id else None
    if council is None:
        abort(404)
    return council


def _read_form() -> tuple[list[dict[str, Any]] | None, str, dict[str, str]]:
    """The services the form names, a label of their source, and any errors by field."""
    address = (request.form.get("address") or "").strip()
    upload = request.files.get("file")
    has_file = upload is not None and bool(upload.filename)
    if address and has_file:
        return None, "", {"address": "Give a web address or a file, not both"}
    if not address and not has_file:
        return None, "", {"address": "Give the web address of the feed, or choose a file"}
    if address:
        if len(address) > ADDRESS_MAX or urlsplit(address).scheme.lower() not in {"http", "https"}:
            return (
                None,
                address[:200],
                {"address": "Give a web address that starts with https:// or http://"},
            )
        try:
            return read_feed(address), address, {}
        except SourceProblem as problem:
            return None, address, {"address": _plain(problem, address)}
    assert upload is not None
    name = upload.filename or "file"
    try:
        document = parse_json(upload.read(), name)
    except UnstorableText as problem:
        return None, name, {"file": _plain(problem, name)}
    except SourceProblem:
        return None, name, {"file": "The file is not JSON. Choose an Open Referral JSON file"}
    try:
        return services_in(document, name), name, {}
    except SourceProblem as problem:
        return None, name, {"file": _plain(problem, name)}


def _plain(problem: SourceProblem, source: str) -> str:
    text = problem.problems[0]
    return text[len(source) + 2 :] if text.startswith(source + ": ") else text


def _form(blueprint: str, errors: dict[str, str], status: int, **context: Any) -> Any:
    return (
        render_template(
            "directory/import.html",
            errors=errors,
            page_has_errors=bool(errors),
            blueprint=blueprint,
            values=request.form,
            **context,
        ),
        status,
    )


def _import(blueprint: str, provider: Provider | None) -> Any:
    actor = _actor()
    council = provider.council if provider else _council(actor)
    if request.method == "GET":
        return _form(blueprint, {}, 200, council=council, provider=provider)
    services, source, errors = _read_form()
    if errors or services is None:
        return _form(blueprint, errors, 400, council=council, provider=provider)
    session = get_session()
    report = import_services(
        session, council, services, actor_user_id=actor.id, only_provider=provider
    )
    record_id = record_import(session, council, actor.id, source, report, provider=provider)
    session.commit()
    return redirect(url_for(f"{blueprint}.report", record_id=record_id), 303)


def _report(blueprint: str, provider: Provider | None, record_id: int) -> Any:
    council = provider.council if provider else _council(_actor())
    try:
        source, report = recorded_import(get_session(), record_id, council, provider)
    except NotFound:
        abort(404)
    return render_template(
        "directory/report.html",
        blueprint=blueprint,
        council=council,
        provider=provider,
        source=source,
        report=report,
    )


@commissioner_bp.route("/import", methods=["GET", "POST"])
def import_page() -> Any:
    return _import("commissioner_import", None)


@commissioner_bp.get("/imports/<int:record_id>")
def report(record_id: int) -> Any:
    return _report("commissioner_import", None, record_id)


def _own_provider() -> Provider:
    try:
        return provider_for(get_session(), _actor())
    except NotFound:
        abort(404)


@provider_bp.route("/import", methods=["GET", "POST"], endpoint="import_page")
def provider_import_page() -> Any:
    return _import("provider_import", _own_provider())


@provider_bp.get("/imports/<int:record_id>", endpoint="report")
def provider_report(record_id: int) -> Response | Any:
    return _report("provider_import", _own_provider(), record_id)
