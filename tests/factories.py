"""factory_boy factories for every model, writing through the test's ``db_session``.

``db_session`` (tests/conftest.py) points the factories at its session; ``Factory()`` then adds
and flushes the object, so it has an id at once. Related objects are made as needed, in the
same council: ``BudgetFactory(round=r)`` gives a person of ``r``'s council.

Every user's password is :data:`DEFAULT_PASSWORD` (hashed once with argon2id).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import factory
from sqlalchemy.orm import Session

from models import (
    AccountToken,
    AccountTokenPurpose,
    AgeBand,
    Allocation,
    AllocationStatus,
    Budget,
    Channel,
    Choice,
    Commitment,
    Consent,
    ConsentStatus,
    Council,
    CouncilTaxonomy,
    CouncilTaxonomyTerm,
    ErasureDecision,
    ErasureRecord,
    Feedback,
    IdempotencyRecord,
    Job,
    JobStatus,
    LoginThrottle,
    Mechanism,
    Notification,
    NotificationSetting,
    NotificationStatus,
    Offer,
    OfferCategory,
    OfferDraft,
    OfferStatus,
    OutcomeTag,
    PersonProfile,
    Postcode,
    Proposal,
    ProposalSupport,
    Provider,
    ProviderMember,
    RetentionPolicy,
    Role,
    Round,
    RoundOffer,
    RoundStatus,
    RunStatus,
    SolverRun,
    SourceKind,
    SourceRecord,
    User,
    UserSession,
    WaitingPosition,
    utcnow,
)
from web.services import accounts

DEFAULT_PASSWORD = "correct horse battery staple"

_session: Session | None = None


def use_session(session: Session | None) -> None:
    """Point every factory at ``session`` (``None`` after the test)."""
    global _session
    _session = session


def _current_session() -> Session:
    if _session is None:
        raise RuntimeError("factories need the db_session fixture")
    return _session


@cache
def default_password_hash() -> str:
    """The argon2id hash of :data:`DEFAULT_PASSWORD` (with the tests' parameters, see
    ``tests/conftest.py``), computed once per test process."""
    return accounts.hash_password(DEFAULT_PASSWORD)


class BaseFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _current_session
        sqlalchemy_session_persistence = "flush"


class CouncilFactory(BaseFactory):
    class Meta:
        model = Council

    name = factory.Sequence(lambda n: f"Riverford Council {n}")
    slug = factory.Sequence(lambda n: f"riverford-{n}")
    areas = factory.LazyFunction(lambda: ["north", "south", "east", "west"])


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    display_name = factory.Faker("name", locale="en_GB")
    role = Role.person
    password_hash = factory.LazyFunction(default_password_hash)
    council = factory.SubFactory(CouncilFactory)


class AdvocateFactory(UserFactory):
    email = factory.Sequence(lambda n: f"advocate{n}@example.org")
    role = Role.advocate


class ProviderUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"provider{n}@example.org")
    role = Role.provider


class CommissionerFactory(UserFactory):
    email = factory.Sequence(lambda n: f"commissioner{n}@example.org")
    role = Role.commissioner


class AdminFactory(UserFactory):
    email = factory.Sequence(lambda n: f"admin{n}@example.org")
    role = Role.admin


class UserSessionFactory(BaseFactory):
    class Meta:
        model = UserSession

    user = factory.SubFactory(UserFactory)
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(hours=12))
    ip = "127.0.0.1"
    user_agent = "pytest"


class LoginThrottleFactory(BaseFactory):
    class Meta:
        model = LoginThrottle

    key = factory.Sequence(lambda n: f"ip:10.0.0.{n % 250}:{n}")
    attempts = 1


class IdempotencyRecordFactory(BaseFactory):
    class Meta:
        model = IdempotencyRecord

    key = factory.Sequence(lambda n: f"key-{n}")
    user_id = factory.LazyAttribute(lambda _: UserFactory().id)
    method = "POST"
    path = "/api/v1/allocations/1/accept"
    request_hash = "0" * 64
    response_status = 201
    response_body = '{"ok": true}'


class OutcomeTagFactory(BaseFactory):
    class Meta:
        model = OutcomeTag

    slug = factory.Sequence(lambda n: f"outcome-{n}")
    label = factory.Sequence(lambda n: f"Outcome {n}")


class PersonProfileFactory(BaseFactory):
    class Meta:
        model = PersonProfile

    user = factory.SubFactory(UserFactory, role=Role.person)
    display_name = factory.SelfAttribute("user.display_name")
    area = "north"
    age_band = AgeBand.age_25_34
    need_level = 3
    aspirations_text = "I want to work with animals."
    max_travel_km = 10
    availability = factory.LazyFunction(lambda: {"mon": ["morning"], "wed": ["afternoon"]})


class ConsentFactory(BaseFactory):
    class Meta:
        model = Consent

    person = factory.SubFactory(PersonProfileFactory)
    advocate = factory.SubFactory(
        AdvocateFactory, council=factory.SelfAttribute("..person.user.council")
    )
    status = ConsentStatus.granted
    can_view = True
    can_draft = True
    can_submit = False
    granted_at = factory.LazyFunction(utcnow)


class ProviderFactory(BaseFactory):
    class Meta:
        model = Provider

    council = factory.SubFactory(CouncilFactory)
    name = factory.Sequence(lambda n: f"Harbour Works {n}")
    slug = factory.Sequence(lambda n: f"harbour-works-{n}")
    description = "A community interest company running workshops."
    website = "https://harbour.example.org"
    email = factory.Sequence(lambda n: f"hello{n}@harbour.example.org")
    registered_identifier = factory.Sequence(lambda n: f"CIC{n:06d}")
    areas_served = factory.LazyFunction(lambda: ["north", "east"])


class ProviderMemberFactory(BaseFactory):
    class Meta:
        model = ProviderMember

    provider = factory.SubFactory(ProviderFactory)
    user = factory.SubFactory(
        ProviderUserFactory, council=factory.SelfAttribute("..provider.council")
    )


class OfferFactory(BaseFactory):
    class Meta:
        model = Offer

    provider = factory.SubFactory(ProviderFactory)
    title = factory.Sequence(lambda n: f"Woodwork workshop {n}")
    description = "Make things from wood with a small friendly group."
    category = OfferCategory.creative
    price_pence = 12_000
    capacity = 6
    area = "north"
    location = "The Old Mill, Riverford"
    schedule = factory.LazyFunction(lambda: {"mon": ["morning"]})
    accessibility = "Step-free entrance; quiet room available."
    status = OfferStatus.published
    published_at = factory.LazyFunction(utcnow)


class RoundFactory(BaseFactory):
    class Meta:
        model = Round

    council = factory.SubFactory(CouncilFactory)
    name = factory.Sequence(lambda n: f"Spring round {n}")
    pot_pence = 5_000_000
    choice_deadline = factory.LazyFunction(lambda: utcnow() + timedelta(days=14))
    status = RoundStatus.open
    mechanism = Mechanism.welfare


class RoundOfferFactory(BaseFactory):
    class Meta:
        model = RoundOffer

    round = factory.SubFactory(RoundFactory)
    offer = factory.SubFactory(
        OfferFactory, provider__council=factory.SelfAttribute("...round.council")
    )
    places = factory.SelfAttribute("offer.capacity")
    places_taken = 0


class BudgetFactory(BaseFactory):
    class Meta:
        model = Budget

    round = factory.SubFactory(RoundFactory)
    person = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...round.council")
    )
    amount_pence = 50_000
    committed_pence = 0


class ChoiceFactory(BaseFactory):
    class Meta:
        model = Choice

    round = factory.SubFactory(RoundFactory)
    person = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...round.council")
    )
    offer = factory.SubFactory(
        OfferFactory, provider__council=factory.SelfAttribute("...round.council")
    )
    rank = 1
    created_by_user_id = factory.SelfAttribute("person.user_id")


class JobFactory(BaseFactory):
    class Meta:
        model = Job

    kind = "allocate_round"
    payload = factory.LazyFunction(dict)
    status = JobStatus.queued


class SolverRunFactory(BaseFactory):
    class Meta:
        model = SolverRun

    round = factory.SubFactory(RoundFactory, status=RoundStatus.closed)
    status = RunStatus.succeeded
    progress = 100
    mechanism = Mechanism.welfare
    seed = 0
    parameters = factory.LazyFunction(lambda: {"time_limit_s": 60})


class AllocationFactory(BaseFactory):
    class Meta:
        model = Allocation

    run = factory.SubFactory(SolverRunFactory)
    round = factory.SelfAttribute("run.round")
    person = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...run.round.council")
    )
    offer = factory.SubFactory(
        OfferFactory, provider__council=factory.SelfAttribute("...run.round.council")
    )
    rank = 1
    utility = 100
    price_pence = factory.SelfAttribute("offer.price_pence")
    status = AllocationStatus.offered
    explanation = factory.LazyFunction(lambda: {"summary": "You got your first choice."})


class CommitmentFactory(BaseFactory):
    class Meta:
        model = Commitment

    allocation = factory.SubFactory(AllocationFactory, status=AllocationStatus.accepted)
    budget = factory.SubFactory(
        BudgetFactory,
        round=factory.SelfAttribute("..allocation.round"),
        person=factory.SelfAttribute("..allocation.person"),
        committed_pence=factory.SelfAttribute("..allocation.price_pence"),
    )
    provider = factory.SelfAttribute("allocation.offer.provider")
    amount_pence = factory.SelfAttribute("allocation.price_pence")


class WaitingPositionFactory(BaseFactory):
    class Meta:
        model = WaitingPosition

    class Params:
        allocation = factory.SubFactory(AllocationFactory)

    person_id = factory.SelfAttribute("allocation.person_id")
    round_id = factory.SelfAttribute("allocation.round_id")
    offer_id = factory.SelfAttribute("allocation.offer_id")
    position = 2


class FeedbackFactory(BaseFactory):
    class Meta:
        model = Feedback

    offer = factory.SubFactory(OfferFactory)
    person = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...offer.provider.council")
    )
    rating = 4
    comment = "Friendly staff and I made a stool."


class ProposalFactory(BaseFactory):
    class Meta:
        model = Proposal

    council = factory.SubFactory(CouncilFactory)
    proposer = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...council")
    )
    title = factory.Sequence(lambda n: f"Evening swimming club {n}")
    description = "A swimming club in the evening for people who work in the day."
    area = "north"
    tags = factory.LazyFunction(lambda: ["staying-healthy"])


class ProposalSupportFactory(BaseFactory):
    class Meta:
        model = ProposalSupport

    proposal = factory.SubFactory(ProposalFactory)
    person = factory.SubFactory(
        PersonProfileFactory, user__council=factory.SelfAttribute("...proposal.council")
    )


class RetentionPolicyFactory(BaseFactory):
    class Meta:
        model = RetentionPolicy

    data_kind = factory.Sequence(lambda n: f"kind_{n}")
    retention_days = 30


class ErasureRecordFactory(BaseFactory):
    class Meta:
        model = ErasureRecord

    subject_user_id = factory.LazyAttribute(lambda _: UserFactory().id)
    decision = ErasureDecision.partly_erased
    reason = "Financial records are kept for six years."
    kept = factory.LazyFunction(lambda: {"commitments": "financial records, 6 years"})


class NotificationFactory(BaseFactory):
    class Meta:
        model = Notification

    key = factory.Sequence(lambda n: f"place_offered:{n}")
    user_id = factory.LazyAttribute(lambda _: UserFactory().id)
    event = "place_offered"
    data = factory.LazyFunction(lambda: {"offer": "Gardening club", "deadline": "2026-12-10"})
    status = NotificationStatus.pending


class NotificationSettingFactory(BaseFactory):
    class Meta:
        model = NotificationSetting

    user_id = factory.LazyAttribute(lambda _: UserFactory().id)
    channel = Channel.text
    phone = "07700 900123"


class AccountTokenFactory(BaseFactory):
    class Meta:
        model = AccountToken

    user_id = factory.LazyAttribute(lambda _: UserFactory().id)
    purpose = AccountTokenPurpose.password_reset
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    email = factory.Sequence(lambda n: f"reset{n}@example.org")
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(hours=1))


class SourceRecordFactory(BaseFactory):
    class Meta:
        model = SourceRecord

    council_id = factory.LazyAttribute(lambda _: CouncilFactory().id)
    kind = SourceKind.organization
    source_id = factory.Faker("uuid4")
    provider_id = factory.LazyAttribute(lambda _: ProviderFactory().id)


class CouncilTaxonomyFactory(BaseFactory):
    class Meta:
        model = CouncilTaxonomy

    council_id = factory.LazyAttribute(lambda _: CouncilFactory().id)
    source_id = factory.Faker("uuid4")
    name = factory.Sequence(lambda n: f"Local support types {n}")
    description = "The kinds of support this council lists."
    uri = "https://example.org/taxonomies/local-support"
    version = "1.0"


class CouncilTaxonomyTermFactory(BaseFactory):
    class Meta:
        model = CouncilTaxonomyTerm

    taxonomy_id = factory.LazyAttribute(lambda _: CouncilTaxonomyFactory().id)
    source_id = factory.Faker("uuid4")
    code = factory.Sequence(lambda n: f"term-{n}")
    name = factory.Sequence(lambda n: f"Term {n}")
    term_uri = factory.Sequence(lambda n: f"https://example.org/taxonomies/local-support/{n}")
    position = factory.Sequence(lambda n: n)


class OfferDraftFactory(BaseFactory):
    class Meta:
        model = OfferDraft

    provider_id = factory.LazyAttribute(lambda _: ProviderFactory().id)
    user_id = factory.LazyAttribute(lambda _: ProviderUserFactory().id)
    answers = factory.LazyFunction(lambda: {"title": "Gardening club", "outcomes": ["work"]})


class PostcodeFactory(BaseFactory):
    class Meta:
        model = Postcode

    postcode = factory.Sequence(lambda n: f"ZZ{n % 100} {n % 10}ZZ")
    latitude = 51.5
    longitude = -0.12
    terminated = None
