"""Who is signed in, and what each role may open. Roles are enforced here and nowhere else.

Interface for pages and API resources::

    from web.auth import current_account, guard_blueprint, roles_required, Role

    bp = Blueprint("provider", __name__, url_prefix="/provider")
    guard_blueprint(bp, Role.provider)          # every view in bp: signed in as a provider

    @bp.get("/offers/<int:offer_id>")
    def offer(offer_id):
        offer = get_session().get(Offer, offer_id)
        if offer is None or offer.provider_id not in my_provider_ids():
            abort(404)                           # others' objects look like missing ones
        ...

    @roles_required(Role.commissioner, Role.admin)   # for a single view elsewhere
    def view(): ...

``endpoint_roles(app, endpoint)`` tells which roles the guards let into an endpoint (None: no
role guard), for access-control tests.

``current_account()`` returns the signed-in ``models.accounts.User`` (or None);
``flask_login.current_user`` is an ``Account`` wrapper that passes attribute reads through to
that user (``current_user.id``, ``.role``, ``.display_name``...). ``current_user_session()``
is the ``UserSession`` row of this request. ``ROLE_HOME`` names each role's home page.

Not signed in: pages redirect to the sign-in page (``?next=`` the page asked for); the API
answers 401 JSON. Signed in with the wrong role: 403. Another person's object: 404, decided by
the view (see above) or with ``owned_or_404``.

How sessions work: signing in creates a ``user_sessions`` row and sets the ``tapestry_session``
cookie (HttpOnly, SameSite=Lax, Secure outside debug and tests) to a random token; only the
token's SHA-256 hash is stored. Every request looks the row up by that hash and refuses it if
revoked, idle too long, too old, older than the last password change, or (for commissioners
and admins) still waiting for its one-time code. Flask-Login's remember-me is not used.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from models.accounts import Role, User, UserSession
from models.base import utcnow
from web.db import get_session
from web.services.accounts import (
    SessionPolicy,
    ThrottlePolicy,
    find_live_session,
    needs_second_factor,
)

__all__ = [
    "ROLE_HOME",
    "Account",
    "Role",
    "current_account",
    "current_user_session",
    "endpoint_roles",
    "guard_blueprint",
    "home_url",
    "owned_or_404",
    "roles_required",
]

login_manager = LoginManager()

ROLE_HOME: dict[Role, str] = {
    Role.person: "person.dashboard",
    Role.advocate: "advocate.dashboard",
    Role.provider: "provider.dashboard",
    Role.commissioner: "commissioner.dashboard",
    Role.admin: "admin.dashboard",
}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Account(UserMixin):  # type: ignore[misc]
    """The signed-in user as Flask-Login sees it; attribute reads go to the ``User`` row."""

    def __init__(self, user: User, user_session: UserSession) -> None:
        self.user = user
        self.user_session = user_session

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session row is the protection
    login_manager.login_view = "account.sign_in"
    login_manager.login_message = "Sign in to see that page"
    login_manager.login_message_category = "info"
    login_manager.request_loader(_load_account)
    login_manager.unauthorized_handler(_unauthorized)
    app.after_request(_forget_dead_cookie)
    app.context_processor(_template_helpers)


def _template_helpers() -> dict[str, Any]:
    def nav_account() -> User | None:
        # An error page shown because the database is down must not ask it who is signed in.
        if g.get("database_down"):
            return None
        return current_account()

    def home_for(user: User | None) -> str:
        return home_url(user) if user is not None else url_for("public.start")

    return {"nav_account": nav_account, "home_for": home_for}


def _forget_dead_cookie(response: Response) -> Response:
    # A cookie whose session has ended is removed, unless this response signs in afresh.
    if g.get("clear_auth_cookie") and not g.get("auth_cookie_set"):
        clear_auth_cookie(response)
    return response


def session_policy() -> SessionPolicy:
    config = current_app.config
    return SessionPolicy(
        idle=timedelta(minutes=float(config["SESSION_IDLE_MINUTES"])),
        absolute=timedelta(hours=float(config["SESSION_ABSOLUTE_HOURS"])),
    )


def throttle_policy() -> ThrottlePolicy:
    config = current_app.config
    return ThrottlePolicy(
        window=timedelta(minutes=float(config["LOGIN_WINDOW_MINUTES"])),
        per_account=int(config["LOGIN_LIMIT_PER_ACCOUNT"]),
        per_address=int(config["LOGIN_LIMIT_PER_ADDRESS"]),
    )


def client_address() -> str | None:
    """The caller's IP address (set ``ProxyFix`` in front of a proxy so this is the client)."""
    return request.remote_addr


def _load_account(req: Any) -> Account | None:
    """Flask-Login's request loader: the cookie's token -> a live session -> its user."""
    token = req.cookies.get(current_app.config["AUTH_COOKIE_NAME"])
    g.pending_session = None
    if not token or g.get("database_down"):
        return None  # an error page about the database must not ask the database again
    session = get_session()
    row = find_live_session(session, token, now=utcnow(), policy=session_policy())
    if row is None:
        g.clear_auth_cookie = True
        return None
    # Commit (last_seen_at may have moved on) so the request's first transaction ends here:
    # on SQLite every transaction holds the write lock, and views doing slow work (password
    # hashing) must not hold it. Loaded objects stay usable (expire_on_commit=False).
    session.commit()
    if needs_second_factor(row.user) and row.second_factor_at is None:
        g.pending_session = row  # only the one-time code pages may use this session
        return None
    return Account(row.user, row)


def current_account() -> User | None:
    """The signed-in user's row, or None."""
    if current_user.is_authenticated:
        return current_user.user  # type: ignore[no-any-return]
    return None


def current_user_session() -> UserSession | None:
    if current_user.is_authenticated:
        return current_user.user_session  # type: ignore[no-any-return]
    return None


def pending_second_factor_session() -> UserSession | None:
    """The session that has passed the password but still needs its one-time code."""
    if "pending_session" not in g:
        _ = current_user.is_authenticated  # loads the user, which sets g.pending_session
    return g.get("pending_session")


def home_url(user: User) -> str:
    return url_for(ROLE_HOME[user.role])


def _unauthorized() -> Response:
    from web.security import is_api_request

    if is_api_request():
        abort(401, description="Sign in to use this part of the API.")
    if pending_second_factor_session() is not None:
        return redirect(url_for("account.second_factor"))
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    return redirect(url_for("account.sign_in", next=target))


def _check_roles(roles: Iterable[Role]) -> Response | None:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # type: ignore[no-any-return]
    if current_user.user.role not in roles:
        abort(403)
    return None


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Let a view through only for signed-in users with one of ``roles``."""
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            refusal = _check_roles(allowed)
            if refusal is not None:
                return refusal
            return view(*args, **kwargs)

        wrapped.allowed_roles = allowed  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def guard_blueprint(bp: Blueprint, *roles: Role) -> None:
    """Require one of ``roles`` for every view of ``bp`` (kept as ``bp.allowed_roles``)."""
    allowed = frozenset(roles)
    bp.allowed_roles = allowed  # type: ignore[attr-defined]

    @bp.before_request
    def _guard() -> Response | None:
        return _check_roles(allowed)


def endpoint_roles(app: Flask, endpoint: str) -> frozenset[Role] | None:
    """The roles the guard lets into ``endpoint``, or None when it has no role guard.

    Reads what ``guard_blueprint`` and ``roles_required`` recorded, so an access-control test
    can list every route and find the ones nobody guards. (Views may still check more, such as
    ownership or ``login_required``.)
    """
    view = app.view_functions[endpoint]
    allowed: frozenset[Role] | None = getattr(view, "allowed_roles", None)
    blueprint_name = endpoint.rpartition(".")[0]
    while blueprint_name:
        blueprint = app.blueprints.get(blueprint_name)
        guarded: frozenset[Role] | None = getattr(blueprint, "allowed_roles", None)
        if guarded is not None:
            allowed = guarded if allowed is None else allowed & guarded
        blueprint_name = blueprint_name.rpartition(".")[0]
    return allowed


def owned_or_404(obj: T | None, is_owner: Callable[[T], bool]) -> T:
    """``obj`` when it exists and ``is_owner(obj)``; otherwise 404, revealing nothing."""
    if obj is None or not is_owner(obj):
        abort(404)
    return obj


def set_auth_cookie(response: Response, token: str) -> None:
    config = current_app.config
    g.auth_cookie_set = True
    response.set_cookie(
        config["AUTH_COOKIE_NAME"],
        token,
        httponly=True,
        secure=bool(config["SESSION_COOKIE_SECURE"]),
        samesite="Lax",
        path="/",
    )


DEVICE_COOKIE = "tapestry_device"
DEVICE_COOKIE_DAYS = 365


def _device_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="tapestry.device")


def device_from_cookie() -> tuple[int, str] | None:
    """The browser's device cookie: the user it was given to at sign-in, and its id (or None).

    Signed with the app's secret, so it cannot be made up; it only says "this browser has
    signed in as this user before" (see ``web.services.accounts.begin_sign_in``).
    """
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _device_signer().loads(raw)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    user_id, device_id = value
    if type(user_id) is not int or not isinstance(device_id, str) or len(device_id) > 64:
        return None
    return user_id, device_id


def set_device_cookie(response: Response, user_id: int) -> None:
    """Remember that this browser signed in as ``user_id`` (keeping its id if it had one)."""
    known = device_from_cookie()
    device_id = known[1] if known and known[0] == user_id else secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE,
        _device_signer().dumps([user_id, device_id]),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        samesite="Lax",
        path="/",
    )


def clear_auth_cookie(response: Response) -> None:
    config = current_app.config
    response.delete_cookie(
        config["AUTH_COOKIE_NAME"],
        httponly=True,
        secure=bool(config["SESSION_COOKIE_SECURE"]),
        samesite="Lax",
        path="/",
    )
