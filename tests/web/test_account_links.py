"""Forgotten passwords, one-off passwords, email confirmation, how you are told, and where
you are signed in: the account pages, end to end through the app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.accounts import Role, User, UserSession
from models.base import utcnow
from models.notifications import AccountToken, Channel, Notification, NotificationSetting
from tests.factories import DEFAULT_PASSWORD
from tests.web.conftest import csrf_token
from web.services import account_links
from web.services.accounts import PASSWORD_HASHER, reset_account
from web.services.passwords import password_problem

NEW_PASSWORD = "violet kettle harbour 42"


def _ask_for_link(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    page = client.get("/account/forgot-password")
    return client.post(
        "/account/forgot-password", data={"csrf_token": csrf_token(page), "email": email}
    )


def _links(db_session: Session, event: str = "password_reset") -> list[Notification]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(Notification).where(Notification.event == event).order_by(Notification.id)
        )
    )


def _set_new_password(client: FlaskClient, token: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    opened = client.get(f"/account/reset/{token}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/account/reset")
    page = client.get("/account/reset")
    return client.post(
        "/account/reset",
        data={
            "csrf_token": csrf_token(page),
            "new_password": new,
            "confirm_password": new if again is None else again,
        },
    )


def test_asking_for_a_link_answers_the_same_whether_or_not_the_account_exists(
    client: FlaskClient, make_user, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.person, email="ann@example.org")

    known = _ask_for_link(client, "ANN@example.org ")
    unknown = _ask_for_link(client, "nobody@example.org")

    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert client.get(known.headers["Location"]).get_data(as_text=True) == client.get(
        unknown.headers["Location"]
    ).get_data(as_text=True)
    [link] = _links(db_session)
    assert link.user_id == user.id and link.data["email"] == "ann@example.org"
    # Only the token's hash is kept with the account.
    token = str(link.data["token"])
    stored = db_session.scalars(select(AccountToken)).one()
    assert stored.token_hash != token and token not in stored.token_hash


def test_a_link_sets_a_new_password_once_and_ends_every_session(
    client: FlaskClient, app, make_user, login, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.person, email="ben@example.org")
    other = app.test_client()
    login(other, user)
    assert other.get("/person/").status_code == 200
    _ask_for_link(client, "ben@example.org")
    token = str(_links(db_session)[0].data["token"])

    weak = _set_new_password(client, token, "password1234")
    assert weak.status_code == 400 and "too easy to guess" in weak.get_data(as_text=True)
    different = _set_new_password(client, token, NEW_PASSWORD, "something else entirely")
    assert "must be the same" in different.get_data(as_text=True)
    done = _set_new_password(client, token, NEW_PASSWORD)

    assert done.status_code == 302 and done.headers["Location"].endswith("/sign-in")
    db_session.refresh(user)
    assert PASSWORD_HASHER.verify(user.password_hash, NEW_PASSWORD)
    assert user.email_confirmed_at is not None
    assert other.get("/person/").status_code == 302  # signed out there
    again = client.get(f"/account/reset/{token}", follow_redirects=True)
    assert "This link does not work" in again.get_data(as_text=True)
    assert login(client, user, NEW_PASSWORD).status_code == 302


def test_an_old_link_does_not_work(client: FlaskClient, make_user, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    make_user(Role.person, email="cat@example.org")
    _ask_for_link(client, "cat@example.org")
    token = str(_links(db_session)[0].data["token"])
    row = db_session.scalars(select(AccountToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()

    response = client.get(f"/account/reset/{token}", follow_redirects=True)

    assert "This link does not work" in response.get_data(as_text=True)
    assert "new_password" not in response.get_data(as_text=True)


def test_links_are_limited_per_email_quietly_and_per_address_openly(
    client: FlaskClient, make_user, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    make_user(Role.person, email="dan@example.org")
    for _ in range(5):
        assert _ask_for_link(client, "dan@example.org").status_code == 302
    assert len(_links(db_session)) == account_links.RESET_POLICY.per_account
    for n in range(account_links.RESET_POLICY.per_address - 5):
        assert _ask_for_link(client, f"x{n}@example.org").status_code == 302
    slowed = _ask_for_link(client, "dan@example.org")
    assert slowed.status_code == 429
    assert "You have asked for too many links" in slowed.get_data(as_text=True)


def test_a_one_off_password_must_be_changed_first(
    client: FlaskClient, make_user, login, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.person)
    password = reset_account(db_session, user, now=utcnow())
    db_session.flush()
    assert user.must_change_password

    login(client, user, password)
    sent_on = client.get("/person/")
    api = client.get("/api/v1/me/profile")

    assert sent_on.status_code == 302 and sent_on.headers["Location"].endswith("/account/password")
    assert api.status_code == 403 and api.get_json()["code"] == 403
    page = client.get("/account/password")
    assert "one-off password" in page.get_data(as_text=True)
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current_password": password,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302
    db_session.refresh(user)
    assert not user.must_change_password
    assert client.get("/person/").status_code == 200


def test_a_new_password_equal_to_the_current_one_is_named_under_new_password(
    client: FlaskClient, make_user, login
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.person)
    login(client, user)
    page = client.get("/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current_password": DEFAULT_PASSWORD,
            "new_password": DEFAULT_PASSWORD,
            "confirm_password": DEFAULT_PASSWORD,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    # The message sits beside the New password field (its error id), not Current password.
    assert 'id="new_password-error"' in html and 'id="current_password-error"' not in html
    assert "must be different from your current password" in html


@pytest.mark.parametrize(
    "password",
    ["password123", "Password1234", "P@ssw0rd2024", "qwertyuiop12", "aaaaaaaaaaaa",
     "abcabcabcabc", "123456789012", "Summer2024!!", "iloveyou2024", "dan.jones2024x"],
)  # fmt: skip
def test_common_and_patterned_passwords_are_refused(password: str) -> None:
    assert password_problem(password, email="dan.jones@example.org") is not None


def test_a_few_random_words_are_fine() -> None:
    assert password_problem(NEW_PASSWORD, email="dan@example.org") is None
    assert password_problem("purple-otter-kettle-9") is None


def test_email_confirmation_by_link(
    client: FlaskClient, make_user, login, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.advocate)
    login(client, user)
    page = client.get("/account")
    assert "Not confirmed yet" in page.get_data(as_text=True)

    sent = client.post("/account/confirm-email", data={"csrf_token": csrf_token(page)})
    [link] = _links(db_session, "email_confirm")
    token = str(link.data["token"])
    opened = client.get(f"/account/confirm/{token}")
    again = client.get(f"/account/confirm/{token}")

    assert sent.status_code == 302 and opened.status_code == 302
    db_session.refresh(user)
    assert user.email_confirmed_at is not None
    assert "This link does not work" in again.get_data(as_text=True)
    assert "Confirmed" in client.get("/account").get_data(as_text=True)


def test_choosing_how_to_be_told(
    client: FlaskClient, make_user, login, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.person)
    login(client, user)
    page = client.get("/account/notifications")

    wrong = client.post(
        "/account/notifications",
        data={"csrf_token": csrf_token(page), "channel": "text", "phone": ""},
    )
    assert wrong.status_code == 400
    assert 'id="phone-error"' in wrong.get_data(as_text=True)
    assert db_session.get(NotificationSetting, user.id) is None

    saved = client.post(
        "/account/notifications",
        data={"csrf_token": csrf_token(page), "channel": "text", "phone": "07700 900123"},
    )
    assert saved.status_code == 302
    setting = db_session.get(NotificationSetting, user.id)
    assert setting is not None and setting.channel == Channel.text
    assert setting.phone == "+447700900123"
    assert 'value="07700 900123"' in client.get("/account/notifications").get_data(as_text=True)


def _live(db_session: Session, user: User) -> int:
    db_session.expire_all()
    return (
        db_session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        )
        or 0
    )


def test_seeing_and_ending_your_own_sessions(
    client: FlaskClient, app, make_user, login, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user(Role.provider)
    stranger = make_user(Role.provider)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone) Safari/604.1"
    login(phone, user)
    login(client, user)
    theirs = app.test_client()
    login(theirs, stranger)
    page = client.get("/account/sessions")
    html = page.get_data(as_text=True)
    assert "Safari on an iPhone" in html and "This device" in html
    phone_row = db_session.scalars(
        select(UserSession).where(
            UserSession.user_id == user.id, UserSession.user_agent.contains("iPhone")
        )
    ).one()
    stranger_row = db_session.scalars(
        select(UserSession).where(UserSession.user_id == stranger.id)
    ).one()

    # Someone else's session cannot be ended from here; the answer is the same as an old one.
    client.post(f"/account/sessions/{stranger_row.id}/end", data={"csrf_token": csrf_token(page)})
    assert _live(db_session, stranger) == 1
    ended = client.post(
        f"/account/sessions/{phone_row.id}/end", data={"csrf_token": csrf_token(page)}
    )

    assert ended.status_code == 302
    assert phone.get("/provider/").status_code == 302  # signed out on the phone
    assert client.get("/provider/").status_code == 200  # still signed in here
    login(phone, user)
    client.post("/account/sessions/end-others", data={"csrf_token": csrf_token(page)})
    assert _live(db_session, user) == 1
    assert theirs.get("/provider/").status_code == 200
