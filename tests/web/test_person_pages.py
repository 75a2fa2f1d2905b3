"""The person journey through the test client: every page, every form, errors and refusals."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    AllocationStatus,
    Choice,
    Commitment,
    Feedback,
    OfferStatus,
    Proposal,
    ProposalSupport,
    Role,
    RoundStatus,
    User,
)
from tests import factories
from tests.services.person_world import World, make_world
from tests.web.conftest import csrf_token


@pytest.fixture
def world(db_session: Session) -> World:
    return make_world()


@pytest.fixture
def sam(client: FlaskClient, world: World, login: Callable[..., object]) -> FlaskClient:
    login(client, world.user)
    return client


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, object], page: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page or path))
    return client.post(path, data={"csrf_token": token, **data})


def test_signed_out_people_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/person/matches")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_other_roles_may_not_open_person_pages(
    client: FlaskClient, make_user: Callable[..., User], login: Callable[..., object]
) -> None:
    login(client, make_user(Role.provider))
    assert client.get("/person/about-me").status_code == 403


def test_home_page_shows_round_budget_and_sections(sam: FlaskClient, world: World) -> None:
    html = text(sam.get("/person/"))
    assert world.round.name in html
    assert "£300" in html
    for words in ("About me", "Matched for you", "My choices", "My place", "Ideas"):
        assert words in html


def test_about_me_shows_what_the_council_noted_read_only(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    world.person.assessed_needs = "Needs a quiet room."
    db_session.flush()
    html = text(sam.get("/person/about-me"))
    assert "Needs a quiet room." in html
    assert "4 out of 10" in html
    assert "£300" in html
    assert 'name="assessed_needs"' not in html and 'name="need_level"' not in html


def test_about_me_saves_and_says_so(sam: FlaskClient, world: World, db_session: Session) -> None:
    response = post(
        sam,
        "/person/about-me",
        {
            "aspirations_text": "I want to sing in a choir.",
            "tags": ["music", "paid-work"],
            "max_travel_miles": "12",
            "free-sat": ["evening"],
        },
    )
    assert response.status_code == 302
    html = text(sam.get(response.headers["Location"]))
    assert "We have saved your changes." in html
    db_session.refresh(world.person)
    assert world.person.aspirations_text == "I want to sing in a choir."
    assert {t.slug for t in world.person.outcome_tags} == {"music", "paid-work"}
    assert world.person.max_travel_km == 19  # 12 miles
    assert 'value="12"' in text(sam.get("/person/about-me"))
    assert world.person.availability == {"sat": ["evening"]}


def test_about_me_errors_beside_fields_and_at_the_top(sam: FlaskClient, world: World) -> None:
    response = post(
        sam,
        "/person/about-me",
        {"aspirations_text": "Keep my words", "max_travel_miles": "far", "tags": ["bogus"]},
    )
    assert response.status_code == 400
    html = text(response)
    assert "<title>Error: About me" in html
    assert "There is a problem" in html
    assert html.count("How far you can travel must be a whole number of miles, like 5") == 2
    assert 'href="#max_travel_miles"' in html and 'href="#tags"' in html
    assert 'id="max_travel_miles-error"' in html
    assert "Keep my words" in html  # what was typed is kept


def test_matched_for_you_lists_fitting_offers_best_first(sam: FlaskClient) -> None:
    html = text(sam.get("/person/matches"))
    assert html.index("Nursery assistant placement") < html.index("Café team member")
    assert "This matches your wishes: getting a paid job and working with children." in html
    assert "Residential college week" not in html
    assert "1 other service in this round does not fit you" in html


def test_search_filters_and_keeps_the_query_in_page_links(sam: FlaskClient, world: World) -> None:
    html = text(sam.get("/person/services?q=choir"))
    assert "Community choir" in html and "Nursery assistant placement" not in html
    provider = world.offers["choir"].provider
    for i in range(12):
        offer = factories.OfferFactory(provider=provider, title=f"Choir extra {i}")
        factories.RoundOfferFactory(round=world.round, offer=offer)
    html = text(sam.get("/person/services?q=choir"))
    assert "13 services found, page 1 of 2" in html
    assert re.search(r'href="/person/services\?page=2&amp;q=choir"', html)


def test_search_without_javascript_shows_errors(sam: FlaskClient) -> None:
    response = sam.get("/person/services?max_price=lots&category=moon")
    assert response.status_code == 400
    html = text(response)
    assert "Enter a price in pounds, like 120 or 95.50" in html
    assert "Choose a type of service from the list" in html


def test_offer_page_shows_places_demand_and_reasons(sam: FlaskClient, world: World) -> None:
    factories.ChoiceFactory(round=world.round, offer=world.offers["nursery"])
    html = text(sam.get(f"/person/services/{world.offers['nursery'].id}"))
    assert "2 places. 1 person has chosen it so far." in html
    assert "It costs £120, which fits your budget of £300." in html
    assert "Add to my choices" in html


def test_another_councils_offer_is_not_found(sam: FlaskClient) -> None:
    elsewhere = factories.OfferFactory()
    assert sam.get(f"/person/services/{elsewhere.id}").status_code == 404


def test_choose_reorder_and_remove_without_javascript(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    for key in ("nursery", "cafe"):
        page = f"/person/services/{world.offers[key].id}"
        response = post(sam, "/person/choices/add", {"offer_id": world.offers[key].id}, page)
        assert response.status_code == 302
    html = text(sam.get("/person/choices"))
    assert html.index("Nursery assistant placement") < html.index("Café team member")
    cafe = world.offers["cafe"].id
    response = post(sam, f"/person/choices/{cafe}", {"action": "up"}, "/person/choices")
    assert response.status_code == 302
    html = text(sam.get("/person/choices"))
    assert html.index("Café team member") < html.index("Nursery assistant placement")
    post(sam, f"/person/choices/{cafe}", {"action": "remove"}, "/person/choices")
    rows = db_session.scalars(select(Choice).where(Choice.person_id == world.person.id)).all()
    assert [(c.offer_id, c.rank) for c in rows] == [(world.offers["nursery"].id, 1)]


def test_choosing_an_offer_over_budget_shows_why_beside_the_button(
    sam: FlaskClient, world: World
) -> None:
    dear = world.offers["dear"].id
    response = post(sam, "/person/choices/add", {"offer_id": dear}, f"/person/services/{dear}")
    assert response.status_code == 400
    html = text(response)
    assert html.count("It costs £450, which is more than your budget of £300.") >= 2
    assert 'id="add-choice-error"' in html and 'href="#add-choice"' in html


def test_warned_when_every_choice_is_oversubscribed(sam: FlaskClient, world: World) -> None:
    page = f"/person/services/{world.offers['nursery'].id}"
    post(sam, "/person/choices/add", {"offer_id": world.offers["nursery"].id}, page)
    assert "You might not get any of them" not in text(sam.get("/person/choices"))
    for _ in range(2):
        factories.ChoiceFactory(round=world.round, offer=world.offers["nursery"])
    html = text(sam.get("/person/choices"))
    assert "You might not get any of them" in html
    assert "3 people have chosen it for 2 places." in html


def test_forms_refuse_posts_without_the_csrf_token(sam: FlaskClient, world: World) -> None:
    response = sam.post("/person/choices/add", data={"offer_id": world.offers["nursery"].id})
    assert response.status_code == 400


def test_closed_round_means_no_choosing(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    world.round.status = RoundStatus.closed
    db_session.flush()
    html = text(sam.get("/person/choices"))
    assert "There is no round open for choices just now." in html


def publish_place(world: World, db_session: Session, status: AllocationStatus):  # type: ignore[no-untyped-def]
    world.round.status = RoundStatus.published
    run = factories.SolverRunFactory(round=world.round)
    world.round.published_run_id = run.id
    allocation = factories.AllocationFactory(
        run=run,
        round=world.round,
        person=world.person,
        offer=world.offers["nursery"],
        rank=1,
        status=status,
        explanation={"summary": "You got your first choice.", "reasons": ["You needed it most."]},
    )
    world.places["nursery"].places_taken = 1
    db_session.flush()
    return allocation


def test_my_place_shows_why_and_accepting_commits_the_money(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.offered)
    html = text(sam.get("/person/place"))
    assert "Waiting for your answer" in html
    assert "You got your first choice." in html and "You needed it most." in html
    path = f"/person/place/{place.id}"
    response = post(sam, path, {})
    assert response.status_code == 400
    assert "Choose yes or no" in text(response)
    response = post(sam, path, {"answer": "accept"})
    assert response.status_code == 302
    db_session.refresh(place)
    assert place.status == AllocationStatus.accepted
    commitment = db_session.scalars(
        select(Commitment).where(Commitment.allocation_id == place.id)
    ).one()
    assert commitment.amount_pence == 12_000
    assert "You said yes" in text(sam.get("/person/place"))


def test_declining_gives_the_place_back(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.offered)
    # Saying no first asks "Are you sure?" on a page of its own, and changes nothing.
    asked = post(sam, f"/person/place/{place.id}", {"answer": "decline"})
    assert asked.status_code == 200
    assert "Are you sure you do not want this place?" in text(asked)
    assert 'name="confirm" value="yes"' in asked.get_data(as_text=True)
    db_session.refresh(place)
    assert place.status == AllocationStatus.offered
    response = post(sam, f"/person/place/{place.id}", {"answer": "decline", "confirm": "yes"})
    assert response.status_code == 302
    db_session.refresh(place)
    db_session.refresh(world.places["nursery"])
    assert place.status == AllocationStatus.declined
    assert world.places["nursery"].places_taken == 0


def test_rate_a_place_with_errors_then_thanks(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.accepted)
    path = f"/person/place/{place.id}/rate"
    # Only once the place has started: before its start date, My place says when it opens.
    response = sam.get(path)
    assert response.status_code == 302
    assert "once the place has started" in text(sam.get(response.headers["Location"]))
    place.start_date = place.created_at.date()
    db_session.flush()
    response = post(sam, path, {"comment": "Lovely"})
    assert response.status_code == 400
    html = text(response)
    assert "Choose how good it was, from 1 to 5 stars" in html and "Lovely" in html
    response = post(sam, path, {"rating": "5", "comment": "Lovely"})
    assert response.status_code == 302
    feedback = db_session.scalars(select(Feedback).where(Feedback.allocation_id == place.id)).one()
    assert (feedback.rating, feedback.comment) == (5, "Lovely")
    assert 'value="5" checked' in text(sam.get(path))


def test_someone_elses_place_is_not_found(sam: FlaskClient, world: World) -> None:
    other = factories.AllocationFactory(status=AllocationStatus.accepted)
    assert sam.get(f"/person/place/{other.id}").status_code == 404
    assert sam.get(f"/person/place/{other.id}/rate").status_code == 404


def test_propose_an_idea_and_support_anothers(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    response = post(sam, "/person/ideas/new", {"title": "", "description": ""})
    assert response.status_code == 400
    html = text(response)
    assert "Enter a short name for your idea" in html and "Tell us about your idea" in html
    response = post(
        sam,
        "/person/ideas/new",
        {"title": "Evening choir", "description": "Singing after work.", "tags": ["music"]},
    )
    assert response.status_code == 302
    mine = db_session.scalars(select(Proposal).where(Proposal.title == "Evening choir")).one()
    theirs = factories.ProposalFactory(council=world.council, title="Gaming club")
    response = post(
        sam, f"/person/ideas/{theirs.id}/support", {"action": "support"}, "/person/ideas"
    )
    assert response.status_code == 302
    supporters = set(
        db_session.scalars(
            select(ProposalSupport.person_id).where(ProposalSupport.proposal_id == theirs.id)
        )
    )
    assert supporters == {world.person.id}
    html = text(sam.get("/person/ideas"))
    assert "it is your idea" in html and "Stop supporting" in html
    assert mine.proposer_id == world.person.id


def test_my_place_explains_the_engines_why_not_by_title(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.offered)
    place.rank = 2
    place.explanation = {
        "explanation": [
            {
                "offer": f"o-{world.offers['cafe'].id}",
                "rank": 1,
                "code": "full_higher_priority",
                "message": "Its places went to people with a higher need.",
            }
        ]
    }
    db_session.flush()
    html = text(sam.get("/person/place"))
    assert "You did not get the services you put above it:" in html
    # The sentence is made from the code in the web layer (web.services.explanations).
    assert "<strong>Café team member</strong> (choice 1): All its places went to people" in html
    assert "o-" + str(world.offers["cafe"].id) not in html


def test_who_can_help_me_shows_the_person_menu(sam: FlaskClient) -> None:
    html = text(sam.get("/person/who-can-help-me"))
    assert 'href="/person/matches"' in html and 'href="/person/choices"' in html


def test_a_withdrawn_choice_says_so(sam: FlaskClient, world: World, db_session: Session) -> None:
    page = f"/person/services/{world.offers['cafe'].id}"
    post(sam, "/person/choices/add", {"offer_id": world.offers["cafe"].id}, page)
    world.offers["cafe"].status = OfferStatus.withdrawn
    db_session.flush()
    assert "No longer offered" in text(sam.get("/person/choices"))


def test_travel_is_asked_in_miles_and_limited(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    response = post(sam, "/person/about-me", {"max_travel_miles": "500"})
    assert response.status_code == 400
    assert "How far you can travel must be 120 miles or less" in text(response)
    assert post(sam, "/person/about-me", {"max_travel_miles": "0"}).status_code == 302
    db_session.refresh(world.person)
    assert world.person.max_travel_km == 0


def test_offer_page_says_when_it_is_in_demand(sam: FlaskClient, world: World) -> None:
    path = f"/person/services/{world.offers['choir'].id}"
    assert "choose others too" not in text(sam.get(path))
    for _ in range(2):  # two places
        factories.ChoiceFactory(round=world.round, offer=world.offers["choir"])
    assert "choose others too" in text(sam.get(path))


def test_my_place_reads_the_runs_explanations_document(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.offered)
    place.rank = 2
    place.explanation = {
        "id": f"p-{world.person.id}",
        "ranks_held": [2],
        "why_not": [
            {"offer": f"o-{world.offers['cafe'].id}", "rank": 1, "code": "capacity", "rule": None,
             "message": "All its places went to other people."},
        ],
    }  # fmt: skip
    db_session.flush()
    html = text(sam.get("/person/place"))
    assert "You got your second choice." in html
    assert "<strong>Café team member</strong> (choice 1): All its places went to other" in html


def test_without_stored_reasons_the_person_is_told_plainly(
    sam: FlaskClient, world: World, db_session: Session
) -> None:
    place = publish_place(world, db_session, AllocationStatus.offered)
    place.explanation = None
    db_session.flush()
    html = text(sam.get("/person/place"))
    assert "We do not have the reasons for this place yet." in html
