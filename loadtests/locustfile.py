"""Load test personas for Tapestry (locust). Run by ``loadtests/run_load.py``; not a pytest file.

Each simulated user signs in through the real sign-in form (with its CSRF token) as an account
of its own from the demo council, listed in the JSON file named by ``TAPESTRY_LOAD_LOGINS``
(written by ``run_load.py``):

- :class:`PersonBrowsing`: a person looks at their home page, the services, one service, their
  matches and their choices, and now and then adds or removes a choice (through the forms).
- :class:`ProviderCapacity`: a provider looks at their offers, demand and placements, and
  changes an offer's number of places (one up or one down) through the form.
- :class:`CommissionerResults`: a commissioner (password and a one-time code, worked out from
  the account's TOTP secret as an authenticator app would) reads rounds, a run's results with
  its charts, the money and the voice pages.
- :class:`ApiClient`: a person's app using the JSON API: offers (pages and one offer), my
  choices, my places, and sometimes setting the list of choices.

Request names start with ``page:``, ``api read:``, ``api write:``, ``form:`` or ``sign in:``,
so the run script can hold each kind to its own threshold. A 409 (for example "this place is
full" or "no round is open") is an answer, not an error; so is a form shown again with its
errors (400/422). Anything else of 400 or more, or no answer, is an error.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import threading
import time
from collections import Counter
from typing import Any

import pyotp
from locust import HttpUser, between, constant, events, task
from locust.exception import StopUser
from pages import (
    CAPACITY_LINK,
    CAPACITY_VALUE,
    CHOICE_FORM,
    OFFER_LINK,
    csrf_token,
    form_token,
)

LOGINS_ENV = "TAPESTRY_LOAD_LOGINS"
SIGN_IN_TRIES = 3
ANSWERS = frozenset({400, 409, 422})

_logins: dict[str, Any] | None = None
_counters: dict[str, itertools.count[int]] = {}
_lock = threading.Lock()


def logins() -> dict[str, Any]:
    global _logins
    if _logins is None:
        path = os.environ.get(LOGINS_ENV)
        if not path:
            raise RuntimeError(f"set {LOGINS_ENV} to the logins file run_load.py writes")
        with open(path, encoding="utf-8") as handle:
            _logins = json.load(handle)
    return _logins


def next_account(kind: str) -> Any:
    """A different account of ``kind`` for each simulated user (round robin)."""
    accounts = logins()[kind]
    with _lock:
        counter = _counters.setdefault(kind, itertools.count())
        return accounts[next(counter) % len(accounts)]


class TapestryUser(HttpUser):
    abstract = True
    wait_time = between(1, 4)
    kind = "persons"

    def on_start(self) -> None:
        self.account = next_account(self.kind)
        for _ in range(SIGN_IN_TRIES):
            if self.sign_in():
                return
        raise StopUser()  # never signed in: counted in "sign in" failures, not as page errors

    def sign_in(self) -> bool:
        """Sign in through the form (and the one-time code page where asked). True when in."""
        email = self.account["email"] if isinstance(self.account, dict) else self.account
        page = self.client.get("/sign-in", name="sign in: form")
        if page.status_code != 200:
            return False
        with self.client.post(
            "/sign-in",
            data={
                "email": email,
                "password": logins()["password"],
                "csrf_token": csrf_token(page.text),
                "form_token": form_token(page.text),
            },
            name="sign in: password",
            catch_response=True,
        ) as response:
            # Signed in: redirected home (or to the one-time code page); refused: the form again.
            if response.status_code != 200 or response.url.split("?")[0].endswith("/sign-in"):
                response.failure(f"sign-in refused: {response.status_code}")
                return False
            response.success()
        return self.after_password(response)

    def after_password(self, response: Any) -> bool:
        return True

    def page(self, path: str, name: str) -> Any:
        return self.client.get(path, name=f"page: {name}")

    def form(self, path: str, data: dict[str, str], name: str, token_from: str) -> Any:
        data = {**data, "csrf_token": csrf_token(token_from), "form_token": form_token(token_from)}
        with self.client.post(path, data=data, name=f"form: {name}", catch_response=True) as r:
            if r.status_code < 400 or r.status_code in ANSWERS:
                r.success()
            else:
                r.failure(f"{r.status_code}")
            return r


class PersonBrowsing(TapestryUser):
    """A person browsing services and making choices through the pages."""

    weight = 6
    kind = "persons"
    offers: list[str]

    def on_start(self) -> None:
        self.offers = []
        super().on_start()

    @task(3)
    def home(self) -> None:
        self.page("/person/", "person home")

    @task(4)
    def services(self) -> None:
        response = self.page("/person/services", "services")
        self.offers = OFFER_LINK.findall(response.text) or self.offers

    @task(4)
    def one_service(self) -> None:
        if self.offers:
            self.page(f"/person/services/{random.choice(self.offers)}", "one service")

    @task(2)
    def matches(self) -> None:
        response = self.page("/person/matches", "matches")
        self.offers = OFFER_LINK.findall(response.text) or self.offers

    @task(3)
    def my_choices(self) -> None:
        self.page("/person/choices", "my choices")

    @task(1)
    def change_a_choice(self) -> None:
        mine = self.page("/person/choices", "my choices")
        chosen = CHOICE_FORM.findall(mine.text)
        if chosen and random.random() < 0.5:
            self.form(
                f"/person/choices/{random.choice(chosen)}",
                {"action": "remove"},
                "remove a choice",
                mine.text,
            )
        elif self.offers:
            offer = self.page(f"/person/services/{random.choice(self.offers)}", "one service")
            self.form("/person/choices/add", {"offer_id": _offer_of(offer.url)}, "add a choice",
                      offer.text)  # fmt: skip


def _offer_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]


class ProviderCapacity(TapestryUser):
    """A provider checking demand and changing the places of an offer."""

    weight = 1
    kind = "providers"

    @task(3)
    def home(self) -> None:
        self.page("/provider/", "provider home")

    @task(2)
    def demand(self) -> None:
        self.page("/provider/demand", "provider demand")

    @task(1)
    def placements(self) -> None:
        self.page("/provider/placements", "provider placements")

    @task(2)
    def change_capacity(self) -> None:
        home = self.page("/provider/", "provider home")
        offers = CAPACITY_LINK.findall(home.text)
        if not offers:
            return
        offer_id = random.choice(offers)
        form = self.page(f"/provider/offers/{offer_id}/capacity", "capacity form")
        found = CAPACITY_VALUE.search(form.text)
        current = int(next(g for g in found.groups() if g)) if found else 5
        new = max(1, min(40, current + random.choice([-1, 1])))
        self.form(f"/provider/offers/{offer_id}/capacity", {"capacity": str(new)},
                  "change capacity", form.text)  # fmt: skip


class CommissionerResults(TapestryUser):
    """A commissioner reading rounds, results, money and the voice of the people."""

    weight = 1
    kind = "commissioners"

    def after_password(self, response: Any) -> bool:
        # The one-time code, as the commissioner's authenticator app shows it.
        code = pyotp.TOTP(self.account["secret"]).now()
        with self.client.post(
            "/sign-in/code",
            data={
                "code": code,
                "csrf_token": csrf_token(response.text),
                "form_token": form_token(response.text),
            },
            name="sign in: one-time code",
            catch_response=True,
        ) as answer:
            if answer.status_code == 200 and "/commissioner" in answer.url:
                answer.success()
                return True
            answer.failure(f"one-time code refused: {answer.status_code}")
            return False

    @task(2)
    def home(self) -> None:
        self.page("/commissioner/", "commissioner home")

    @task(2)
    def open_round(self) -> None:
        self.page(f"/commissioner/rounds/{logins()['open_round_id']}", "round")

    @task(3)
    def results(self) -> None:
        rounds = logins()
        self.page(
            f"/commissioner/rounds/{rounds['past_round_id']}/runs/{rounds['past_run_id']}",
            "run results",
        )

    @task(1)
    def money(self) -> None:
        self.page(f"/commissioner/rounds/{logins()['past_round_id']}/money", "money")

    @task(1)
    def voice(self) -> None:
        self.page("/commissioner/voice", "voice")


class ApiClient(TapestryUser):
    """A person's app on the JSON API (signed in through the same form, then cookies)."""

    weight = 3
    kind = "api_persons"
    offer_ids: list[int]

    def on_start(self) -> None:
        self.offer_ids = []
        super().on_start()

    def read(self, path: str, name: str) -> Any:
        return self.client.get(path, name=f"api read: {name}")

    @task(4)
    def offers(self) -> None:
        page = random.randint(1, 3)
        response = self.read(f"/api/v1/offers?page={page}&per_page=20", "offers")
        if response.status_code == 200:
            self.offer_ids = [o["id"] for o in response.json()["items"]] or self.offer_ids

    @task(3)
    def one_offer(self) -> None:
        if self.offer_ids:
            self.read(f"/api/v1/offers/{random.choice(self.offer_ids)}", "one offer")

    @task(3)
    def my_choices(self) -> None:
        self.read("/api/v1/me/choices", "my choices")

    @task(2)
    def me(self) -> None:
        self.read("/api/v1/me", "me")

    @task(1)
    def my_places(self) -> None:
        self.read("/api/v1/allocations/mine", "my places")

    @task(1)
    def set_choices(self) -> None:
        if not self.offer_ids:
            return
        wanted = random.sample(self.offer_ids, k=min(len(self.offer_ids), random.randint(1, 3)))
        with self.client.put(
            "/api/v1/me/choices",
            json={"offer_ids": wanted},
            headers={"X-Requested-With": "locust"},
            name="api write: set my choices",
            catch_response=True,
        ) as response:
            if response.status_code == 200 or response.status_code in ANSWERS:
                response.success()
            else:
                response.failure(f"{response.status_code}")


class OpenReferralFeed(HttpUser):
    """Another directory reading a council's public Open Referral feed (issue 14's targets:
    one ``/services/{id}`` p95 under 50 ms at 50 users; every page of ``/services`` under 1 s).
    No sign-in. Run by ``loadtests/openreferral_load.py``, by class name."""

    wait_time = between(0.5, 2)
    base = "/openreferral/" + os.environ.get("TAPESTRY_LOAD_COUNCIL", "westmere")

    def on_start(self) -> None:
        self.service_ids: list[str] = []
        first = self.client.get(f"{self.base}/services?per_page=100", name="feed page: /services")
        if first.status_code == 200:
            self.service_ids = [item["id"] for item in first.json()["contents"]]

    @task(10)
    def one_service(self) -> None:
        if self.service_ids:
            service_id = random.choice(self.service_ids)
            self.client.get(f"{self.base}/services/{service_id}", name="feed one: /services/{id}")

    @task(1)
    def whole_feed(self) -> None:
        """Every page of ``/services``, one after another, timed as one request."""
        started, size, page, failure = time.perf_counter(), 0, 1, None
        while True:
            answer = self.client.get(
                f"{self.base}/services?per_page=100&page={page}", name="feed page: /services"
            )
            size += len(answer.content)
            if answer.status_code != 200:
                failure = RuntimeError(f"page {page}: {answer.status_code}")
                break
            if answer.json().get("last_page", True):
                break
            page += 1
        self.environment.events.request.fire(
            request_type="GET",
            name="feed whole: every /services page",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=size,
            exception=failure,
            context={},
        )


class Saturation(HttpUser):
    """No think time: as many requests as the server answers (for the throughput ratio)."""

    abstract = True
    wait_time = constant(0)


class ApiSaturation(Saturation):
    """The public list of offers, as fast as it comes (run alone, by class name)."""

    @task
    def offers(self) -> None:
        self.client.get("/api/v1/offers?page=1&per_page=20", name="api read: offers")


class BareEndpoint(Saturation):
    """``loadtests/bare_app.py``'s one endpoint, served the same way (run alone)."""

    @task
    def ping(self) -> None:
        self.client.get("/ping", name="bare: ping")


# -- times per kind of request, for the thresholds -------------------------------------------

TIMES_ENV = "TAPESTRY_LOAD_TIMES"
_times: dict[str, list[float]] = {}
_failures: Counter[str] = Counter()


def kind_of(name: str) -> str:
    return name.split(":", 1)[0] if ":" in name else "other"


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any = None, **_kwargs: Any) -> None:
    kind = kind_of(name)
    _times.setdefault(kind, []).append(response_time)
    if exception is not None:
        _failures[kind] += 1


@events.spawning_complete.add_listener
def _after_ramp_up(**_kwargs: Any) -> None:
    """Count from the moment every user has started: the ramp-up is mostly password hashing
    (argon2id, slow on purpose), which is not what the thresholds are about. (Users still
    signing in after that are counted under "sign in", which has no threshold.)"""
    with _lock:
        _times.clear()
        _failures.clear()


@events.quitting.add_listener
def _write_times(**_kwargs: Any) -> None:
    """Write every kind's count, failures, median, p95 and p99 (ms) to ``TAPESTRY_LOAD_TIMES``."""
    path = os.environ.get(TIMES_ENV)
    if not path:
        return
    summary = {}
    for kind, times in _times.items():
        ordered = sorted(times)
        summary[kind] = {
            "count": len(ordered),
            "failures": _failures[kind],
            "median_ms": _percentile(ordered, 50),
            "p95_ms": _percentile(ordered, 95),
            "p99_ms": _percentile(ordered, 99),
        }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(percent / 100 * len(ordered)) - 1))
    return round(ordered[index], 1)
