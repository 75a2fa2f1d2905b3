"""The commissioner's pages through the test client: a round from creation to the money."""

from __future__ import annotations

import html as html_lib
import io
import json
import re
from collections.abc import Callable

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Allocation, Budget, Proposal, ProposalStatus, Round, RoundStatus, SolverRun
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round
from tests.web.conftest import csrf_token
from web.services.jobs import claim_next_job, run_job


def signed_in(client: FlaskClient, world: CommissioningWorld, login: Callable, db: Session) -> None:
    world.commissioner.totp_secret = pyotp.random_base32()
    db.flush()
    response = login(client, world.commissioner)
    assert response.status_code == 302


def post(client: FlaskClient, url: str, data: dict, page_url: str | None = None, **kw):
    page = client.get(page_url or url)
    return client.post(url, data={"csrf_token": csrf_token(page), **data}, **kw)


def run_worker_once(db: Session, session_factory: Callable[[], Session]) -> None:
    db.commit()
    job = claim_next_job(db, "page-test-worker")
    assert job is not None
    assert run_job(session_factory, job, "page-test-worker", heartbeat_every_s=None)
    db.expire_all()


def test_only_commissioners_see_the_pages(client: FlaskClient, make_user, login) -> None:
    assert client.get("/commissioner/").status_code == 302
    person = make_user()
    login(client, person)
    assert client.get("/commissioner/").status_code == 403


def test_create_a_round_set_places_budgets_policy_open_and_close(
    client: FlaskClient, db_session: Session, login: Callable
) -> None:
    world = make_round(db_session, status=RoundStatus.draft)
    signed_in(client, world, login, db_session)

    bad = post(client, "/commissioner/rounds/new", {"name": "", "pot": "lots"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "There is a problem" in html and "Enter a name for the round" in html
    assert "Enter the pot in pounds" in html

    made = post(
        client,
        "/commissioner/rounds/new",
        {
            "name": "Summer",
            "pot": "2,500",
            "deadline-day": "30",
            "deadline-month": "6",
            "deadline-year": "2030",
            "areas": ["north"],
            "max_choices": "3",
        },
    )
    assert made.status_code == 302
    round_ = db_session.scalars(select(Round).where(Round.name == "Summer")).one()
    assert round_.pot_pence == 250_000 and round_.areas == ["north"]
    base = f"/commissioner/rounds/{round_.id}"
    assert made.headers["Location"].endswith(f"{base}/places")

    art, cafe = world.offers["art"], world.offers["cafe"]
    wrong = post(client, f"{base}/places", {f"places-{art.id}": "two"})
    assert wrong.status_code == 400
    saved = post(client, f"{base}/places", {f"places-{art.id}": "4", f"places-{cafe.id}": "1"})
    assert saved.status_code == 302
    db_session.expire_all()
    assert {ro.offer_id: ro.places for ro in round_.round_offers} == {art.id: 4, cafe.id: 1}

    ada = world.people["Ada"]
    one = post(client, f"{base}/budgets", {"person_id": str(ada.id), "amount": "320.50"})
    assert one.status_code == 302
    budget = db_session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == ada.id)
    ).one()
    assert budget.amount_pence == 32_050

    ben = world.people["Ben"].user.email
    csv_bad = f"email,amount\n{ben},100\nnobody@example.org,5\n".encode()
    preview = post(
        client,
        f"{base}/budgets/import",
        {"action": "preview", "file": (io.BytesIO(csv_bad), "budgets.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 400
    html = preview.get_data(as_text=True)
    assert "No one in your council signs in with this email" in html
    assert "Import 2 budgets" not in html  # nothing can be imported while a row is wrong

    csv_ok = f"email,amount\n{ben},100\n".encode()
    preview = post(
        client,
        f"{base}/budgets/import",
        {"action": "preview", "file": (io.BytesIO(csv_ok), "budgets.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    assert "Import 1 budget<" in preview.get_data(as_text=True)  # not "1 budgets"
    imported = client.post(
        f"{base}/budgets/import",
        data={"csrf_token": csrf_token(preview), "action": "import", "csv": csv_ok.decode()},
    )
    assert imported.status_code == 302
    assert (
        db_session.scalars(
            select(Budget.amount_pence).where(
                Budget.round_id == round_.id, Budget.person_id == world.people["Ben"].id
            )
        ).one()
        == 10_000
    )

    rule = post(
        client,
        f"{base}/policy",
        {
            "action": "add-rule",
            "mechanism": "welfare",
            "time_limit_s": "5",
            "seed": "3",
            "max_placements": "1",
            "rule_type": "coverage_floor",
            "rule_attribute": "area",
            "rule_share": "50",
        },
    )
    assert rule.status_code == 302
    db_session.expire_all()
    assert round_.rules == [{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}]
    assert round_.seed == 3
    bad_rule = post(
        client,
        f"{base}/policy",
        {
            "action": "add-rule",
            "mechanism": "welfare",
            "time_limit_s": "5",
            "seed": "3",
            "max_placements": "1",
            "rule_type": "coverage_floor",
            "rule_attribute": "area",
            "rule_share": "150",
        },
    )
    assert bad_rule.status_code == 400

    # Opening asks "Are you sure?" first (people are told at once), and a bare post only asks.
    assert post(client, f"{base}/open", {}, page_url=base).status_code == 200
    db_session.expire_all()
    assert round_.status == RoundStatus.draft
    assert post(client, f"{base}/open", {"confirm": "yes"}, page_url=base).status_code == 302
    db_session.expire_all()
    assert round_.status == RoundStatus.open
    # Closing asks "Are you sure?" first, and a bare post only asks again.
    asked = client.get(f"{base}/close")
    assert asked.status_code == 200
    assert "Are you sure you want to close this round for choices?" in asked.get_data(as_text=True)
    assert post(client, f"{base}/close", {}, page_url=base).status_code == 200
    db_session.expire_all()
    assert round_.status == RoundStatus.open
    closed = post(client, f"{base}/close", {"confirm": "yes"}, page_url=f"{base}/close")
    assert closed.status_code == 302
    db_session.expire_all()
    assert round_.status == RoundStatus.closed
    assert client.get(f"{base}/close").status_code == 302  # nothing to ask any more


def test_run_results_with_charts_publish_and_money(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(
        db_session,
        mechanism="welfare",
        rules=[{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}],
        pot_pence=60_000,
    )
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}"
    started = post(client, f"{base}/runs", {"label": "With the floor"}, page_url=base)
    assert started.status_code == 302
    run = db_session.scalars(select(SolverRun).where(SolverRun.round_id == world.round.id)).one()
    waiting = client.get(f"{base}/runs/{run.id}")
    html = waiting.get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in html and "<progress" in html

    run_worker_once(db_session, session_factory)
    done = client.get(f"{base}/runs/{run.id}")
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert 'http-equiv="refresh"' not in html
    charts = re.findall(
        r'<svg class="app-chart"[^>]*role="img"[^>]*aria-labelledby="([^"]+)"', html
    )
    assert len(charts) >= 5
    for section in ("coverage", "ranks", "spend", "need", "oversubscribed", "prices", "values"):
        assert f'id="{section}"' in html
    assert "<title" in html and "<desc" in html
    assert "Share of people placed by area" in html
    assert "Total value with and without each rule" in html  # the price of the floor
    assert "Points of value gained from one more place" in html

    instance = client.get(f"{base}/runs/{run.id}/instance.json")
    assert instance.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(instance.get_data(as_text=True))["format"] == "tapestry.instance/1"

    # A second run without the rule, then compare the two.
    second = post(client, f"{base}/runs", {"without_rules": "yes"}, page_url=base)
    assert second.status_code == 302
    run_worker_once(db_session, session_factory)
    other = db_session.scalars(
        select(SolverRun).where(SolverRun.round_id == world.round.id, SolverRun.id != run.id)
    ).one()
    assert other.parameters["rules"] == []
    compared = client.get(f"{base}/compare?a={run.id}&b={other.id}")
    html = compared.get_data(as_text=True)
    assert compared.status_code == 200
    assert f"Run {run.id} and run {other.id} side by side" in html
    assert 'role="img"' in html

    asked = client.get(f"{base}/runs/{run.id}/publish")
    assert asked.status_code == 200
    assert f"Are you sure you want to publish run {run.id}?" in asked.get_data(as_text=True)
    assert "override_reason" not in asked.get_data(as_text=True)  # it keeps every limit
    published = post(
        client,
        f"{base}/runs/{run.id}/publish",
        {"confirm": "yes"},
        page_url=f"{base}/runs/{run.id}",
    )
    assert published.status_code == 302
    db_session.expire_all()
    assert world.round.status == RoundStatus.published
    offered = db_session.scalars(select(Allocation).where(Allocation.run_id == run.id)).all()
    assert offered

    money = client.get(f"{base}/money")
    assert money.status_code == 200
    csv_file = client.get(f"{base}/money.csv")
    assert csv_file.mimetype == "text/csv"
    assert csv_file.get_data(as_text=True).startswith("date,person_id,person")


def test_voice_loop_answers_a_proposal(
    client: FlaskClient, db_session: Session, login: Callable
) -> None:
    world = make_round(db_session)
    idea = factories.ProposalFactory(
        council=world.council, proposer=world.people["Ada"], title="A Saturday swimming club"
    )
    factories.ProposalSupportFactory(proposal=idea, person=world.people["Ben"])
    signed_in(client, world, login, db_session)
    page = client.get("/commissioner/voice")
    assert page.status_code == 200
    assert "A Saturday swimming club" in page.get_data(as_text=True)
    url = f"/commissioner/proposals/{idea.id}"
    missing = post(client, url, {"status": "commissioned", "response": "Yes"})
    assert missing.status_code == 400
    answered = post(
        client,
        url,
        {"status": "commissioned", "response": "We are buying it.", "round_id": world.round.id},
    )
    assert answered.status_code == 302
    db_session.expire_all()
    found = db_session.get(Proposal, idea.id)
    assert found.status == ProposalStatus.commissioned
    assert found.commissioned_round_id == world.round.id


def _finished_run(
    db: Session, session_factory: Callable[[], Session], world: CommissioningWorld
) -> SolverRun:
    from tests.services.commissioning_world import solved_run

    return solved_run(world, session_factory)


def test_a_persons_case_their_choices_place_and_each_why_not(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session)
    run = _finished_run(db_session, session_factory, world)
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}/runs/{run.id}"
    run_html = client.get(base).get_data(as_text=True)
    assert f'href="{base}/people"' in run_html and f'href="{base}/unplaced"' in run_html
    assert "This run keeps the reasons for all 6 people who chose." in run_html

    ben = world.people["Ben"]
    reference = ben.reference
    spaced = f"{reference[:5].lower()} {reference[5:]}"  # any case, with spaces
    for query in ("be", reference, spaced):
        found = client.get(f"{base}/people", query_string={"q": query}).get_data(as_text=True)
        assert f'href="{base}/people/{ben.id}"' in found, query
    nobody = client.get(f"{base}/people?q=Zed").get_data(as_text=True)
    assert "No one in this run has that name or reference." in nobody

    case = client.get(f"{base}/people/{ben.id}")
    assert case.status_code == 200
    html = case.get_data(as_text=True)
    assert ben.reference in html and "No place this time" in html
    # Ben (need 2) ranked the cafe and the garden; both went to people ahead in the queue.
    assert html.count("<code>full_higher_priority</code>") == 2
    assert "Full: the places went to people ahead in the queue" in html
    assert "All its places went to people ahead of you in the queue" in html
    ada = client.get(f"{base}/people/{world.people['Ada'].id}").get_data(as_text=True)
    assert "Got this place" in ada and "their choice number 1" in ada
    assert client.get(f"{base}/people/999999").status_code == 404


def test_people_without_a_place_filtered_and_paged(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    people = {
        f"P{i:02d}": ("north" if i % 2 else "south", 2 + i % 3, 30_000, ["cafe"]) for i in range(30)
    }
    world = make_round(db_session, people=people, offers={"cafe": (1, 15_000)})
    run = _finished_run(db_session, session_factory, world)
    signed_in(client, world, login, db_session)
    url = f"/commissioner/rounds/{world.round.id}/runs/{run.id}/unplaced"
    first = client.get(url).get_data(as_text=True)
    assert "29 people without a place, page 1 of 2." in first
    assert 'method="get"' in first and 'name="area"' in first and 'name="need"' in first
    second = client.get(url, query_string={"page": 2}).get_data(as_text=True)
    assert "page 2 of 2" in second
    north = client.get(url, query_string={"area": "north"}).get_data(as_text=True)
    placed_area = next(
        world.people[n].area
        for n in world.people
        if f"/people/{world.people[n].id}" not in first
        and f"/people/{world.people[n].id}" not in second
    )
    assert f"{15 - (placed_area == 'north')} people without a place." in north
    need = client.get(url, query_string={"need": 2, "area": "south"}).get_data(as_text=True)
    count = sum(
        1
        for n, (area, level, _, _) in people.items()
        if area == "south" and level == 2 and f'/people/{world.people[n].id}"' in first + second
    )
    assert f"{count} {'person' if count == 1 else 'people'} without a place" in need
    assert client.get(url, query_string={"page": "x", "need": "high"}).status_code == 200


def test_the_results_csv_has_every_reason_and_is_safe_in_a_spreadsheet(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    import csv

    world = make_round(db_session)
    world.offers["cafe"].title = "=HYPERLINK(1)"
    db_session.flush()
    run = _finished_run(db_session, session_factory, world)
    signed_in(client, world, login, db_session)
    response = client.get(f"/commissioner/rounds/{world.round.id}/runs/{run.id}/results.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == [
        "person_reference", "place", "place_rank", "choice_rank", "choice", "reason_code",
        "reason",
    ]  # fmt: skip
    assert {r["person_reference"] for r in rows} == {p.reference for p in world.people.values()}
    ben = [r for r in rows if r["person_reference"] == world.people["Ben"].reference]
    assert [(r["place"], r["choice_rank"], r["reason_code"]) for r in ben] == [
        ("", "1", "full_higher_priority"), ("", "2", "full_higher_priority"),
    ]  # fmt: skip
    assert ben[0]["choice"] == "'=HYPERLINK(1)"  # never a formula
    assert all(r["reason"] for r in ben)
    ada = [r for r in rows if r["person_reference"] == world.people["Ada"].reference]
    assert [(r["place"], r["place_rank"], r["reason_code"]) for r in ada] == [
        ("'=HYPERLINK(1)", "1", "")
    ]


def test_a_stable_run_says_why_it_has_no_welfare_figures(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session)
    run = _finished_run(db_session, session_factory, world)
    signed_in(client, world, login, db_session)
    html = client.get(f"/commissioner/rounds/{world.round.id}/runs/{run.id}").get_data(as_text=True)
    assert "It never swaps places to raise the total value." in html
    assert "Points of value gained" not in html and "Value given up" not in html
    assert "total value" not in html.split('id="people"')[0].split("govuk-panel__body")[1][:400]


def _words(response) -> str:  # type: ignore[no-untyped-def]
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html_lib.unescape(plain).split())


def test_a_run_over_the_pot_is_red_and_published_only_with_a_reason(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session, pot_pence=30_000)  # stable: the pot is not enforced
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}"
    assert post(client, f"{base}/runs", {}, page_url=base).status_code == 302
    run_worker_once(db_session, session_factory)
    run = db_session.scalars(select(SolverRun).where(SolverRun.round_id == world.round.id)).one()
    run_url = f"{base}/runs/{run.id}"
    page = client.get(run_url)
    html = page.get_data(as_text=True)
    assert "govuk-panel--confirmation" not in html  # no green panel for a broken limit
    assert 'class="govuk-error-summary" id="breaches"' in html
    assert "It spends £510, which is £210 more than the £300 pot." in _words(page)
    assert "Publish this allocation anyway" in html

    asked = client.get(f"{run_url}/publish")
    assert asked.status_code == 200 and 'name="override_reason"' in asked.get_data(as_text=True)
    refused = post(client, f"{run_url}/publish", {"confirm": "yes"}, page_url=f"{run_url}/publish")
    assert refused.status_code == 400
    assert "Say why you publish an allocation that breaks the round" in _words(refused)
    db_session.expire_all()
    assert world.round.status == RoundStatus.allocated

    reason = "The council agreed extra money on 1 December."
    done = post(
        client,
        f"{run_url}/publish",
        {"confirm": "yes", "override_reason": reason},
        page_url=f"{run_url}/publish",
    )
    assert done.status_code == 302
    db_session.expire_all()
    assert world.round.status == RoundStatus.published
    for url in (base, run_url):
        shown = client.get(url)
        assert 'class="govuk-error-summary"' in shown.get_data(as_text=True)
        assert reason in _words(shown)
        assert "It spends £510, which is £210 more than the £300 pot." in _words(shown)
    # A second press of "Yes" publishes nothing twice.
    again = post(
        client, f"{run_url}/publish", {"confirm": "yes", "override_reason": reason}, page_url=base
    )
    assert again.status_code == 302
    assert (
        db_session.scalar(
            select(func.count()).select_from(Allocation).where(Allocation.run_id == run.id)
        )
        == 5
    )


def test_an_infeasible_run_is_a_failure_with_its_reasons_in_plain_words(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(
        db_session,
        mechanism="welfare",
        rules=[
            {"type": "coverage_floor", "attribute": "area", "min_share": 0.2},
            {"type": "coverage_floor", "attribute": "area", "min_share": 1, "values": ["south"]},
        ],
        people={
            "Ada": ("north", 5, 30_000, ["cafe"]),
            "Ben": ("south", 4, 30_000, ["cafe"]),
            "Cat": ("south", 3, 30_000, ["cafe"]),
        },
        offers={"cafe": (1, 15_000)},
    )
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}"
    assert post(client, f"{base}/runs", {}, page_url=base).status_code == 302
    run_worker_once(db_session, session_factory)
    run = db_session.scalars(select(SolverRun).where(SolverRun.round_id == world.round.id)).one()
    assert run.status_of_result == "infeasible"
    page = client.get(f"{base}/runs/{run.id}")
    html, words = page.get_data(as_text=True), _words(page)
    assert "govuk-panel--confirmation" not in html
    assert "This run found no allocation" in words
    assert (
        "Rule 2, every area (south) at least 100%: south can reach at most 50%, even if its "
        "people got places first." in words
    )
    assert "coverage_floor" not in words and "min_share" not in words
    assert "Publish this allocation" not in html
    assert client.get(f"{base}/runs/{run.id}/publish").status_code == 302
    listed = _words(client.get(base))
    assert "No allocation" in listed and "Finished" not in listed
    api = client.get(f"/api/v1/rounds/{world.round.id}/runs/{run.id}").get_json()
    assert api["reasons"] == [
        "Rule 1, every area at least 20%: each area could reach it on its own, but not all at "
        "the same time, because they need the same places.",
        "Rule 2, every area (south) at least 100%: south can reach at most 50%, even if its "
        "people got places first.",
    ]
    # It can still be compared with a run without the rules.
    assert post(client, f"{base}/runs", {"without_rules": "yes"}, page_url=base).status_code == 302
    run_worker_once(db_session, session_factory)
    other = max(r.id for r in db_session.scalars(select(SolverRun)))
    compared = client.get(f"{base}/compare?a={run.id}&b={other}")
    assert compared.status_code == 200


def test_the_policy_form_refuses_a_misspelt_group_and_suggests_the_real_one(
    client: FlaskClient, db_session: Session, login: Callable
) -> None:
    world = make_round(db_session)
    signed_in(client, world, login, db_session)
    url = f"/commissioner/rounds/{world.round.id}/policy"
    form = {
        "action": "add-rule",
        "mechanism": "welfare",
        "time_limit_s": "5",
        "seed": "0",
        "max_placements": "1",
        "rule_type": "coverage_floor",
        "rule_attribute": "area",
        "rule_share": "30",
        "rule_values": "narnia, North",
    }
    refused = post(client, url, form)
    assert refused.status_code == 400
    assert 'No one in this round has the area "narnia"' in _words(refused)
    assert "The rule is added" not in _words(refused)
    form["rule_values"] = "North"
    refused = post(client, url, form)
    assert 'No one in this round has the area "North". Did you mean "north"?' in _words(refused)
    db_session.expire_all()
    assert world.round.rules == []
    form["rule_values"] = "north"
    assert post(client, url, form).status_code == 302
    db_session.expire_all()
    assert world.round.rules[0]["values"] == ["north"]
