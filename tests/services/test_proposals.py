"""Ideas for new services: proposing, supporting, withdrawing support, and the list."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from models import ProposalStatus
from tests import factories
from web.services.errors import InvalidInput, NotFound
from web.services.proposals import list_proposals, propose, support, withdraw_support


def test_proposer_supports_their_own_idea(db_session: Session) -> None:
    factories.OutcomeTagFactory(slug="keep-active", label="Keeping fit")
    person = factories.PersonProfileFactory(area="north")
    proposal = propose(
        db_session,
        person.user,
        person,
        title=" Swimming club ",
        description="A club with help in the water.",
        tag_slugs=["keep-active"],
    )
    assert (proposal.title, proposal.area, proposal.tags) == (
        "Swimming club",
        "north",
        ["keep-active"],
    )
    [view] = list_proposals(db_session, person.user, person)
    assert view.supporters == 1 and view.supported_by_me and view.mine


def test_errors_are_named_by_field(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    with pytest.raises(InvalidInput) as caught:
        propose(db_session, person.user, person, title="", description="", tag_slugs=["nope"])
    assert set(caught.value.errors) == {"title", "description", "tags"}
    with pytest.raises(InvalidInput) as caught:
        propose(db_session, person.user, person, title="x" * 121, description="y" * 2001)
    assert set(caught.value.errors) == {"title", "description"}


def test_support_once_and_withdraw(db_session: Session) -> None:
    proposal = factories.ProposalFactory()
    person = factories.PersonProfileFactory(user__council=proposal.council)
    assert support(db_session, person.user, person, proposal.id)
    assert not support(db_session, person.user, person, proposal.id)
    [view] = list_proposals(db_session, person.user, person)
    assert view.supporters == 1 and view.supported_by_me and not view.mine
    assert withdraw_support(db_session, person.user, person, proposal.id)
    assert not withdraw_support(db_session, person.user, person, proposal.id)
    [view] = list_proposals(db_session, person.user, person)
    assert view.supporters == 0 and not view.supported_by_me


def test_list_is_most_supported_first_and_only_my_council(db_session: Session) -> None:
    council = factories.CouncilFactory()
    person = factories.PersonProfileFactory(user__council=council)
    quiet = factories.ProposalFactory(council=council, title="Quiet idea")
    popular = factories.ProposalFactory(
        council=council, title="Popular idea", status=ProposalStatus.under_consideration
    )
    for _ in range(3):
        factories.ProposalSupportFactory(proposal=popular)
    factories.ProposalSupportFactory(proposal=quiet)
    factories.ProposalFactory(title="Another council's idea")
    views = list_proposals(db_session, person.user, person)
    assert [v.proposal.title for v in views] == ["Popular idea", "Quiet idea"]
    assert [v.supporters for v in views] == [3, 1]


def test_cannot_support_another_councils_idea(db_session: Session) -> None:
    person = factories.PersonProfileFactory()
    elsewhere = factories.ProposalFactory()
    with pytest.raises(NotFound):
        support(db_session, person.user, person, elsewhere.id)
