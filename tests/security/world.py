"""A council with one of every actor the access-control matrix needs, and objects each owns.

Person A (with an advocate who holds A's consent) and person B; providers X and Y, each with a
published offer; a published round where A and B have places (A one offered, one accepted)
and an open round where A has ranked X's offer; A's proposal; a commissioner and an admin.
Every name and title is distinctive, so a test can check that a refused page does not show it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from sqlalchemy.orm import Session

from engine.explain import explain
from engine.explain_io import explanations_to_dict
from engine.reader import instance_from_dict
from engine.solve import solve
from engine.writer import dumps_instance, dumps_result
from models import (
    AllocationStatus,
    Mechanism,
    OfferDraft,
    RoundStatus,
    RunStatus,
    SolverRun,
    User,
    utcnow,
)
from models.accounts import Role
from tests import factories


@dataclass
class World:
    users: dict[str, User]
    ids: dict[str, int]
    secrets: dict[str, str]


#: The outcome tags of the world, so generated requests can name real ones.
TAGS = {"paid-work": "Getting a paid job", "friends": "Making friends"}
#: The council's areas, which every provider serves too.
AREAS = ["north", "east"]


def make_world(session: Session) -> World:
    # A fixed slug: the Open Referral feed's addresses name the council.
    council = factories.CouncilFactory(slug="westmere", areas=AREAS)
    for slug, label in TAGS.items():
        factories.OutcomeTagFactory(slug=slug, label=label)
    a = factories.UserFactory(council=council, display_name="Ariadne Quillfeather")
    b = factories.UserFactory(council=council, display_name="Bartholomew Ironside")
    profile_a = factories.PersonProfileFactory(
        user=a,
        display_name=a.display_name,
        assessed_needs="Needs-of-Ariadne: support with travel",
        aspirations_text="Aspiration-of-Ariadne: to bake bread",
        equity_attributes={"ethnicity": "white-british"},
        equity_consent_at=utcnow(),
    )
    profile_b = factories.PersonProfileFactory(user=b, display_name=b.display_name)
    advocate = factories.AdvocateFactory(council=council, display_name="Avery Advocate")
    consent = factories.ConsentFactory(
        person=profile_a, advocate=advocate, can_view=True, can_draft=True, can_submit=True
    )

    def provider_user(name: str, org: str, title: str) -> tuple[User, object, object]:
        user = factories.ProviderUserFactory(council=council, display_name=name)
        provider = factories.ProviderFactory(council=council, name=org, areas_served=AREAS)
        factories.ProviderMemberFactory(provider=provider, user=user)
        offer = factories.OfferFactory(provider=provider, title=title, area="north")
        return user, provider, offer

    x, provider_x, offer_x = provider_user("Xavier Provider", "Xanadu Crafts", "Xylophone-Club")
    y, provider_y, offer_y = provider_user("Yolanda Provider", "Yonder Gardens", "Yew-Pruning")
    draft_x = factories.OfferFactory(
        provider=provider_x, title="Xeriscape-Draft", status="draft", published_at=None
    )
    # X's answers so far to the offer form's questions (kept on the server).
    offer_draft_x = OfferDraft(
        provider_id=provider_x.id, user_id=x.id, answers={"title": "Xenon-Draft-Answer"}
    )
    session.add(offer_draft_x)
    # The council's own taxonomy (published with `tapestry openreferral taxonomy` or its page):
    # providers tag offers with its terms.
    taxonomy = factories.CouncilTaxonomyFactory(council_id=council.id, name="Westmere support")
    council_term = factories.CouncilTaxonomyTermFactory(
        taxonomy_id=taxonomy.id, code="day", name="Day opportunities"
    )
    offer_x.council_terms = [council_term]

    published = factories.RoundFactory(
        council=council, status=RoundStatus.published, mechanism=Mechanism.welfare
    )
    run = factories.SolverRunFactory(
        round=published,
        status=RunStatus.succeeded,
        result_json='{"status": "optimal"}',
        instance_json=None,
    )
    published.published_run_id = run.id
    published.published_at = utcnow()
    for offer in (offer_x, offer_y):
        factories.RoundOfferFactory(round=published, offer=offer, places=3, places_taken=1)
    budget_a = factories.BudgetFactory(round=published, person=profile_a, amount_pence=100_000)
    factories.BudgetFactory(round=published, person=profile_b, amount_pence=100_000)
    offered_a = factories.AllocationFactory(
        run=run, round=published, person=profile_a, offer=offer_x
    )
    accepted_a = factories.AllocationFactory(
        run=run,
        round=published,
        person=profile_a,
        offer=offer_y,
        status=AllocationStatus.accepted,
        decided_at=utcnow(),
        start_date=utcnow().date(),  # started today, so it can be rated
    )
    factories.CommitmentFactory(
        allocation=accepted_a, budget=budget_a, provider=provider_y, amount_pence=12_000
    )
    budget_a.committed_pence = 12_000
    offered_b = factories.AllocationFactory(
        run=run, round=published, person=profile_b, offer=offer_y
    )

    open_round = factories.RoundFactory(council=council, status=RoundStatus.open)
    for offer in (offer_x, offer_y):
        factories.RoundOfferFactory(round=open_round, offer=offer, places=3)
    factories.BudgetFactory(round=open_round, person=profile_a)
    factories.BudgetFactory(round=open_round, person=profile_b)
    factories.ChoiceFactory(round=open_round, person=profile_a, offer=offer_x, rank=1)

    proposal = factories.ProposalFactory(
        council=council, proposer=profile_a, title="Proposal-of-Ariadne: a bakery"
    )
    commissioner = factories.CommissionerFactory(
        council=council, display_name="Cordelia Commissioner", totp_secret=pyotp.random_base32()
    )
    admin = factories.AdminFactory(
        council=council, display_name="Ada Admin", totp_secret=pyotp.random_base32()
    )
    session.flush()
    _store_run(run, profile_a.id, profile_b.id, offer_x.id, offer_y.id)
    session.flush()
    users = {
        "person_a": a,
        "person_b": b,
        "advocate": advocate,
        "provider_x": x,
        "provider_y": y,
        "commissioner": commissioner,
        "admin": admin,
    }
    ids = {
        "user_a": a.id,
        "person_a": profile_a.id,
        "person_b": profile_b.id,
        "consent_a": consent.id,
        "offer_x": offer_x.id,
        "offer_y": offer_y.id,
        "draft_x": draft_x.id,
        "offer_draft_x": offer_draft_x.id,
        "provider_x": provider_x.id,
        "provider_y": provider_y.id,
        "published_round": published.id,
        "open_round": open_round.id,
        "run": run.id,
        "offered_a": offered_a.id,
        "accepted_a": accepted_a.id,
        "offered_b": offered_b.id,
        "proposal_a": proposal.id,
        "council_taxonomy": taxonomy.id,
        "council_term": council_term.id,
    }
    secrets = {
        "name_a": a.display_name,
        "needs_a": "Needs-of-Ariadne",
        "aspiration_a": "Aspiration-of-Ariadne",
        "offer_x": offer_x.title,
        "draft_x": draft_x.title,
        "offer_draft_x": "Xenon-Draft-Answer",
        "proposal_a": "Proposal-of-Ariadne",
    }
    assert Role.person == a.role
    return World(users=users, ids=ids, secrets=secrets)


def _store_run(run: SolverRun, a: int, b: int, x: int, y: int) -> None:
    """Give the run a real instance, the engine's result and its explanations, keyed like the
    services'."""
    instance = instance_from_dict(
        {
            "format": "tapestry.instance/1",
            "round": {"id": f"round-{run.round_id}", "pot": None},
            "persons": [
                {
                    "id": f"p-{person}",
                    "budget": 1000.0,
                    "need": 3,
                    "attributes": {"need_band": "medium"},
                    "preferences": [{"offer": f"o-{x}", "rank": 1}, {"offer": f"o-{y}", "rank": 2}],
                }
                for person in (a, b)
            ],
            "offers": [
                {"id": f"o-{offer}", "provider": "p", "capacity": 3, "price": 120.0}
                for offer in (x, y)
            ],
            "policy": {"mechanism": "welfare", "rules": [], "time_limit_s": 10, "seed": 0},
        }
    )
    run.instance_json = dumps_instance(instance)
    result = solve(instance)
    run.result_json = dumps_result(result)
    run.status_of_result = result.status
    run.analysis = explanations_to_dict(explain(instance, result))
