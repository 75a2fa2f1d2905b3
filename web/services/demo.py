"""The demo council: a realistic, fictional "Westmere Council" with people, providers and a round.

:func:`build_demo` fills an empty, migrated database; ``tapestry demo`` (see ``web/cli.py``)
makes a fresh SQLite file for it and serves the site. Everything is drawn from one
``random.Random(seed)``, so the same seed gives the same council, people, offers and choices.

What it holds (with the default 300 persons):

- one council with a city (Westmere), a town (Northtown) and four villages;
- 16 outcome tags (the shared taxonomy), each with wishes people write in their own words;
- about 300 persons with areas, ages, assessed needs and need levels, equity-monitoring
  attributes (for most of them, with consent), wishes, travel distances and free times;
- 12 advocates, each with consents from some persons (most granted, some only asked for);
- 25 providers with Open Referral-style fields, each with a member who signs in;
- 80 offers across work, training, day activities, help at home, social and creative
  activities (76 published, 3 drafts, 1 withdrawn), with prices in pence and capacities;
- the council's own taxonomy, "Westmere support types" (:data:`COUNCIL_TAXONOMY`, a tree of
  seven terms, published in its Open Referral feed as ``tapestry openreferral taxonomy``
  would), whose terms tag every offer but the creative ones, by their type of service;
- an earlier round, already published, whose accepted places people can rate, with some
  ratings; an open round with a budget for every person and choices already made by most of
  them (each picks among the offers that match them best, as the site shows them). Places
  (about a third of standing capacity) and the pot (about two thirds of the cost of everyone's
  first choice) are scarce, so an allocation run places most people, not all;
- ideas for new services with supporters, some answered by the council;
- one commissioner and one admin, whose second factor uses a TOTP secret printed at start.

Passwords. Every demo account has the same password, :data:`DEMO_PASSWORD`, and its argon2id
hash is made once and reused: hashing 350 passwords would take most of a minute. The hash uses
the same parameters as real accounts, so signing in works exactly as it does in production.

The earlier round's places were not chosen by the engine here: they are history, drawn so
that most people got one of their first choices, and the run that holds them says so in its
``parameters`` (``{"source": "demo history"}``).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import Council, Role, User
from models.audit import append_event
from models.base import utcnow
from models.openreferral import CouncilTaxonomy, CouncilTaxonomyTerm
from models.people import (
    DAYS,
    TIMES_OF_DAY,
    AgeBand,
    Consent,
    ConsentStatus,
    OutcomeTag,
    PersonProfile,
)
from models.providers import Offer, OfferCategory, OfferStatus, Provider, ProviderMember
from models.rounds import (
    Allocation,
    AllocationStatus,
    Budget,
    Choice,
    Commitment,
    Mechanism,
    Round,
    RoundOffer,
    RoundStatus,
    RunStatus,
    SolverRun,
)
from models.voice import Feedback, Proposal, ProposalStatus, ProposalSupport
from web.services.accounts import hash_password
from web.services.matching import match_offers
from web.services.openreferral_taxonomies import load_taxonomies
from web.services.profiles import facts_for, offer_facts
from web.services.recurrence import weekly_rules

DEFAULT_SEED = 2027
#: Places in the open round as a share of each offer's standing capacity (at least 1).
OPEN_ROUND_PLACES_SHARE = 0.35
#: The open round's pot as a percentage of the cost of everyone's first choice.
OPEN_ROUND_POT_SHARE_PERCENT = 65
DEFAULT_PERSONS = 300
EMAIL_DOMAIN = "westmere.example"

#: The one password of every demo account (see "Passwords" above).
DEMO_PASSWORD = "westmere-demo"

# Area name -> (kind, latitude, longitude, share of the population, spread in degrees).
AREAS: dict[str, tuple[str, float, float, float, float]] = {
    "Westmere": ("city", 52.4862, -1.8904, 0.42, 0.035),
    "Northtown": ("town", 52.5860, -1.9822, 0.22, 0.020),
    "Little Haddon": ("village", 52.5410, -1.7480, 0.09, 0.008),
    "Ashby Green": ("village", 52.4200, -2.0510, 0.09, 0.008),
    "Millbrook": ("village", 52.6130, -1.8060, 0.09, 0.008),
    "Eastwick": ("village", 52.4650, -1.6920, 0.09, 0.008),
}

TAGS: list[tuple[str, str, list[str]]] = [
    (
        "paid-work",
        "Getting a paid job",
        [
            "I want a proper job with my own wages.",
            "I would like to earn my own money.",
            "I want to work in a shop or a café.",
        ],
    ),
    (
        "work-with-children",
        "Working with children",
        [
            "I want a job in a children's nursery.",
            "I love little kids and want to help look after them.",
        ],
    ),
    (
        "learn-skills",
        "Learning new skills",
        [
            "I want to go to college and learn something new.",
            "I'd like to get better at reading and maths.",
        ],
    ),
    (
        "digital-skills",
        "Using computers and phones",
        [
            "I want to learn to use a computer so I can send emails.",
            "I want to do video calls with my family on my own.",
        ],
    ),
    (
        "make-friends",
        "Making friends",
        [
            "I get lonely and would like to meet new people.",
            "I want friends my own age to go out with.",
        ],
    ),
    (
        "keep-active",
        "Keeping fit and active",
        [
            "I want to get fitter and go swimming.",
            "I'd like to play football every week.",
        ],
    ),
    (
        "live-independently",
        "Living on my own",
        [
            "One day I want my own flat.",
            "I want to do more things for myself at home.",
        ],
    ),
    (
        "cooking",
        "Cooking for myself",
        [
            "I'd like to learn to cook proper meals.",
            "I want to bake cakes for my mum.",
        ],
    ),
    (
        "travel-independently",
        "Travelling on my own",
        [
            "I want to catch the bus into town by myself.",
            "I'd like to go places without waiting for a lift.",
        ],
    ),
    (
        "arts-crafts",
        "Art and making things",
        [
            "I love painting and want to do more of it.",
            "I want to make things with wood or clay.",
        ],
    ),
    (
        "music",
        "Music and singing",
        [
            "I want to sing in a choir.",
            "I'd like to learn to play the drums.",
        ],
    ),
    (
        "outdoors",
        "Being outdoors and gardening",
        [
            "I like being outside and growing vegetables.",
            "I want to help look after a park.",
        ],
    ),
    (
        "animals",
        "Working with animals",
        [
            "I want to work with animals, maybe on a farm.",
            "I love dogs and would like to help at a kennel.",
        ],
    ),
    (
        "confidence",
        "Feeling more confident",
        [
            "I want to feel braver when I meet new people.",
            "I'd like to speak up for myself more.",
        ],
    ),
    (
        "volunteering",
        "Helping others and volunteering",
        [
            "I want to help other people like I've been helped.",
            "I'd like to volunteer at a charity shop.",
        ],
    ),
    (
        "health-wellbeing",
        "Looking after my health",
        [
            "I want to feel calmer and sleep better.",
            "I'd like help to eat more healthily.",
        ],
    ),
]

FIRST_NAMES = [
    "Aisha", "Alex", "Amara", "Ben", "Bethany", "Callum", "Chloe", "Daniel", "Deepa", "Eddie",
    "Ella", "Farah", "Finn", "Grace", "Harvey", "Hana", "Imran", "Isla", "Jack", "Jasmine",
    "Jordan", "Kai", "Katie", "Leon", "Lily", "Marcus", "Maya", "Mohammed", "Nadia", "Noah",
    "Olivia", "Owen", "Priya", "Reece", "Rosie", "Ryan", "Sam", "Sara", "Tariq", "Tom",
    "Tyler", "Uzma", "Vicky", "Wes", "Yusuf", "Zara", "Bernard", "Margaret", "Joan", "Kwame",
]  # fmt: skip
LAST_NAMES = [
    "Ahmed", "Baker", "Begum", "Clarke", "Davies", "Evans", "Green", "Hall", "Hughes", "Hussain",
    "Jackson", "Jones", "Kaur", "Khan", "Lewis", "Mensah", "Morgan", "Nowak", "O'Brien", "Patel",
    "Price", "Roberts", "Shah", "Singh", "Smith", "Taylor", "Thomas", "Walker", "Williams",
    "Wright",
]  # fmt: skip

NEEDS = [
    "Learning disability. Needs someone with them when somewhere new.",
    "Autistic. Finds noise and crowds hard; needs a quiet space to take breaks.",
    "Uses a wheelchair. Needs step-free access and an accessible toilet.",
    "Learning disability and epilepsy. Staff need to know their seizure plan.",
    "Mental health needs. Does best with a regular routine and the same staff.",
    "Sight loss. Needs large print and help finding their way at first.",
    "Hearing loss. Uses British Sign Language.",
    "Down's syndrome. Needs support with money and travel.",
    "Older person living alone. Needs help with shopping and getting out.",
    "Brain injury after an accident. Needs reminders and short sessions.",
]

ETHNICITY = ["White British", "White other", "Asian", "Black", "Mixed", "Other"]
ETHNICITY_WEIGHTS = [62, 6, 16, 8, 5, 3]
SEX = ["female", "male"]
SUPPORT = ["learning-disability", "autism", "physical", "mental-health", "older-age", "sensory"]

# Age band -> weight among persons.
AGE_WEIGHTS = {
    AgeBand.age_16_17: 5,
    AgeBand.age_18_24: 26,
    AgeBand.age_25_34: 22,
    AgeBand.age_35_49: 19,
    AgeBand.age_50_64: 14,
    AgeBand.age_65_plus: 14,
}
NEED_WEIGHTS = [0, 6, 12, 16, 18, 16, 12, 9, 6, 3, 2]  # need level 0..10


@dataclass(frozen=True, slots=True)
class OfferTemplate:
    """A kind of offer: its tags, usual price and capacity, who it is for, and when it runs."""

    category: OfferCategory
    title: str
    description: str
    tags: tuple[str, ...]
    price_pounds: tuple[int, int]
    capacity: tuple[int, int]
    ages: tuple[AgeBand | None, AgeBand | None] = (None, None)
    need: tuple[int | None, int | None] = (None, None)
    eligibility_text: str | None = None
    online: bool = False


E, T, D, H, S, C = (
    OfferCategory.employment,
    OfferCategory.training,
    OfferCategory.day_opportunity,
    OfferCategory.home_support,
    OfferCategory.social,
    OfferCategory.creative,
)
A16, A18, A25, A50, A65 = (
    AgeBand.age_16_17,
    AgeBand.age_18_24,
    AgeBand.age_25_34,
    AgeBand.age_50_64,
    AgeBand.age_65_plus,
)

OFFER_TEMPLATES: list[OfferTemplate] = [
    OfferTemplate(E, "Nursery assistant placement", "Paid work helping staff in a children's "
                  "nursery: play, snack time and tidying up, with a job coach at first.",
                  ("paid-work", "work-with-children", "confidence"), (220, 380), (2, 4),
                  (A18, A50), eligibility_text="You need a DBS check; we help you get one."),
    OfferTemplate(E, "Café team member", "Paid shifts in a community café: serving, making "
                  "drinks and keeping the café clean. Training given.",
                  ("paid-work", "cooking", "confidence"), (180, 320), (3, 6), (A18, None)),
    OfferTemplate(E, "Supported job search", "One-to-one help to find a paid job: what you "
                  "are good at, your CV, interviews and your first weeks at work.",
                  ("paid-work", "confidence"), (150, 260), (6, 12), (A16, A65)),
    OfferTemplate(E, "Garden centre work trial", "Twelve weeks of paid work trials in a garden "
                  "centre, looking after plants and helping customers.",
                  ("paid-work", "outdoors"), (200, 300), (2, 5), (A18, None)),
    OfferTemplate(E, "Animal care assistant", "Paid part-time work at a rescue centre: "
                  "feeding, walking and cleaning, alongside experienced staff.",
                  ("paid-work", "animals", "outdoors"), (230, 340), (2, 3), (A18, None)),
    OfferTemplate(E, "Office and reception work", "Paid work experience on a reception desk "
                  "and in an office: phones, post and computers.",
                  ("paid-work", "digital-skills", "confidence"), (200, 300), (2, 4), (A18, None)),
    OfferTemplate(T, "Cooking on a budget course", "Ten weekly sessions in a teaching kitchen: "
                  "plan, shop for and cook healthy meals.",
                  ("cooking", "live-independently", "health-wellbeing"), (90, 160), (8, 12)),
    OfferTemplate(T, "Computer skills for beginners", "Learn to use a laptop, email, video "
                  "calls and stay safe online. Small groups, lots of help.",
                  ("digital-skills", "learn-skills"), (60, 120), (8, 14)),
    OfferTemplate(T, "Travel training", "A trainer travels with you until you can make your "
                  "own journeys by bus or train, one route at a time.",
                  ("travel-independently", "confidence", "live-independently"), (180, 280),
                  (4, 8)),
    OfferTemplate(T, "English and maths for life", "Friendly classes in reading, writing and "
                  "money maths, at your own pace. Leads to a certificate.",
                  ("learn-skills", "confidence"), (80, 150), (10, 16), (A16, None)),
    OfferTemplate(T, "Childcare skills certificate", "A college course for people who want to "
                  "work with young children, with a placement in a nursery.",
                  ("work-with-children", "learn-skills", "paid-work"), (240, 420), (6, 10),
                  (A16, A50)),
    OfferTemplate(T, "Money and living skills", "Learn to budget, pay bills and shop, so you "
                  "can manage a home of your own.",
                  ("live-independently", "learn-skills"), (100, 180), (6, 10), (A16, None)),
    OfferTemplate(T, "Online digital skills club", "Weekly online sessions on phones, tablets "
                  "and apps, from home. We lend you a tablet if you need one.",
                  ("digital-skills", "make-friends"), (40, 90), (12, 20), online=True),
    OfferTemplate(D, "Community farm days", "Days on a working farm: animals, vegetables and "
                  "lunch together. Transport from the village halls.",
                  ("animals", "outdoors", "make-friends"), (150, 260), (8, 14)),
    OfferTemplate(D, "Sports and fitness days", "Swimming, walking football and gym sessions "
                  "with coaches who know how to adapt them.",
                  ("keep-active", "make-friends", "health-wellbeing"), (120, 220), (10, 16)),
    OfferTemplate(D, "Life skills day centre", "A day centre where you plan your own week: "
                  "cooking, shopping trips, games and quiet time.",
                  ("live-independently", "make-friends", "cooking"), (200, 350), (12, 20),
                  need=(3, None)),
    OfferTemplate(D, "Park rangers volunteering", "Help look after parks and woods with a "
                  "ranger: planting, paths and nature surveys.",
                  ("outdoors", "volunteering", "keep-active"), (80, 160), (8, 12)),
    OfferTemplate(D, "Sensory day service", "Calm days with sensory rooms, music and outings, "
                  "with staff trained in complex needs.",
                  ("health-wellbeing", "music", "confidence"), (320, 480), (4, 8),
                  need=(6, None), eligibility_text="For people with complex needs."),
    OfferTemplate(D, "Day club for older people", "Lunch, company, gentle exercise and trips "
                  "for people over 65.",
                  ("make-friends", "keep-active", "health-wellbeing"), (90, 180), (12, 20),
                  (A65, None)),
    OfferTemplate(H, "Help at home: everyday tasks", "A support worker visits to help with "
                  "cleaning, washing, shopping and paperwork.",
                  ("live-independently", "health-wellbeing"), (260, 460), (6, 12),
                  need=(4, None)),
    OfferTemplate(H, "Cooking at home support", "A support worker cooks with you in your own "
                  "kitchen until you can do it alone.",
                  ("cooking", "live-independently"), (200, 340), (5, 10)),
    OfferTemplate(H, "Getting out and about", "A support worker goes with you to the shops, "
                  "the doctor's or the park, and helps you learn the way.",
                  ("travel-independently", "confidence", "make-friends"), (180, 320), (6, 10)),
    OfferTemplate(H, "Evening and weekend support", "Support in your home in the evenings "
                  "and at weekends, when other services are closed.",
                  ("live-independently", "health-wellbeing"), (300, 480), (4, 8), need=(5, None)),
    OfferTemplate(S, "Friday social club", "Games, music and food with friends on Friday "
                  "evenings. Discos once a month.",
                  ("make-friends", "music"), (40, 90), (15, 25), (A18, None)),
    OfferTemplate(S, "Walking group", "Weekly walks in the countryside with a leader, a café "
                  "stop and a lift home if you need one.",
                  ("keep-active", "make-friends", "outdoors"), (30, 70), (10, 20)),
    OfferTemplate(S, "Speak up self-advocacy group", "Meet others, learn about your rights "
                  "and tell the council what should change.",
                  ("confidence", "make-friends", "volunteering"), (30, 80), (10, 18)),
    OfferTemplate(S, "Young people's youth club", "A youth club for 16 to 24 year olds: "
                  "trips, sport and a place to hang out.",
                  ("make-friends", "keep-active"), (40, 90), (12, 20), (A16, A18)),
    OfferTemplate(S, "Volunteering buddies", "A buddy helps you find and start volunteering "
                  "at a charity shop, food bank or library.",
                  ("volunteering", "confidence", "make-friends"), (70, 140), (8, 12)),
    OfferTemplate(C, "Community choir", "Sing together every week, no experience needed. "
                  "Concerts twice a year.",
                  ("music", "make-friends", "confidence"), (40, 90), (15, 30)),
    OfferTemplate(C, "Art studio sessions", "Painting, drawing and printmaking in a real "
                  "studio, with an exhibition at the end of term.",
                  ("arts-crafts", "confidence"), (80, 160), (8, 14)),
    OfferTemplate(C, "Drumming and band workshop", "Learn drums and play in a band. We record "
                  "a song together.",
                  ("music", "make-friends"), (70, 140), (6, 10)),
    OfferTemplate(C, "Woodwork and pottery", "Make things from wood and clay in a friendly "
                  "workshop, with tools adapted for you.",
                  ("arts-crafts", "learn-skills"), (90, 170), (6, 10)),
    OfferTemplate(C, "Drama group", "Acting games and a show at the end of the year.",
                  ("confidence", "make-friends", "arts-crafts"), (60, 130), (10, 16)),
]  # fmt: skip

PROVIDERS: list[tuple[str, str, tuple[OfferCategory, ...]]] = [
    ("Westmere Works", "Supported employment and job coaching across Westmere.", (E, T)),
    (
        "Brightstart Nurseries CIC",
        "Community nurseries that train and employ local people.",
        (E, T),
    ),
    ("Harbour Café Co-operative", "A co-operative café run by and with disabled people.", (E, S)),
    ("Northtown College", "Further education college with a supported learning department.", (T,)),
    ("Open Door Learning", "Adult learning in small groups, in libraries and online.", (T,)),
    ("Roadwise Travel Training", "Travel training for people who want to get about alone.", (T, H)),
    ("Greenfields Community Farm", "A working farm open to everyone, with day services.", (D,)),
    ("Active Westmere", "Sport and fitness for disabled people, run by a local charity.", (D, S)),
    ("Millbrook Day Opportunities", "A day service in a village hall near Millbrook.", (D,)),
    ("Calm Waters Sensory Centre", "Day services for people with complex needs.", (D,)),
    ("Silver Threads", "Clubs and trips for older people.", (D, S)),
    ("HomeWell Support", "Home support across Westmere, Northtown and the villages.", (H,)),
    ("KindHands Care", "A small home care agency rated good by the CQC.", (H,)),
    ("Independence Matters", "Support to live at home and get out and about.", (H, T)),
    ("Friday Friends", "Social clubs and discos for adults with learning disabilities.", (S,)),
    ("Ramblers Together", "Walking groups for everyone, led by volunteers.", (S,)),
    (
        "Speak Up Westmere",
        "A self-advocacy charity run by people with learning disabilities.",
        (S,),
    ),
    ("Youth Connect", "Youth clubs and trips for young people.", (S,)),
    ("Westmere Voices Choir", "An inclusive community choir.", (C,)),
    ("Studio Nine Arts", "An inclusive art studio and gallery.", (C,)),
    ("Beat Makers", "Music workshops and bands.", (C, S)),
    ("Shavings & Clay", "A community workshop for wood and pottery.", (C,)),
    ("Curtain Up Drama", "Inclusive drama groups and shows.", (C,)),
    ("Parks Alive", "Volunteering in parks and green spaces.", (D, S)),
    ("Paws for Thought", "Animal rescue centre offering work and volunteering.", (E, D)),
]

PROPOSALS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Swimming club for adults", "A swimming club with changing places toilets and staff to "
     "help in the water.", ("keep-active", "health-wellbeing")),
    ("Evening cooking club", "Cooking together in the evening, because I work in the day.",
     ("cooking", "make-friends")),
    ("Bus buddies in the villages", "Someone to ride the bus with us from the villages into "
     "Westmere until we feel OK.", ("travel-independently",)),
    ("Gaming club", "A club to play video games and board games with friends.",
     ("make-friends", "digital-skills")),
    ("Dog walking jobs", "Paid dog walking for people who love dogs.", ("animals", "paid-work")),
    ("Quiet disco", "A disco with headphones and low lights, for people who find noise hard.",
     ("make-friends", "music")),
    ("Hairdressing course", "Learn hairdressing and get a qualification.",
     ("learn-skills", "paid-work")),
    ("Film club in Northtown", "Watch films together once a week and talk about them.",
     ("make-friends",)),
    ("Sign language café", "A café where staff and customers use BSL.",
     ("make-friends", "paid-work")),
    ("Allotment group", "Share an allotment and grow our own food.",
     ("outdoors", "cooking")),
    ("Dance classes", "Street dance and ballroom for all abilities.",
     ("keep-active", "music")),
    ("Photography walks", "Take photos on walks and show them in an exhibition.",
     ("arts-crafts", "outdoors")),
]  # fmt: skip

COMMENTS = {
    5: ["Brilliant. I made friends and I go every week.", "The staff are really kind.",
        "Best thing I have done this year."],
    4: ["Good, but the room gets too busy sometimes.", "I liked it a lot.",
        "Helpful staff. Wish it was longer."],
    3: ["It was OK.", "Some days were good, some not.", "Too far away for me."],
    2: ["The bus there is hard.", "Not what I expected."],
    1: ["The times kept changing and nobody told me."],
}  # fmt: skip


@dataclass
class DemoLogins:
    """The sign-ins printed by ``tapestry demo``: one per role, with the TOTP secrets."""

    accounts: dict[Role, str] = field(default_factory=dict)
    password: str = DEMO_PASSWORD
    totp_secrets: dict[Role, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


#: The council's own taxonomy, as an Open Referral UK ``taxonomy`` document (what a council
#: loads with ``tapestry openreferral taxonomy`` or the commissioner's page).
COUNCIL_TAXONOMY: dict[str, object] = {
    "id": "westmere-support-types",
    "name": "Westmere support types",
    "description": "The kinds of support Westmere Council lists in its local offer.",
    "uri": "https://westmere.example/taxonomies/support-types",
    "version": "2026",
    "taxonomy_terms": [
        {"id": "wm-community", "term": "community-life", "name": "Community life",
         "description": "Things to do and people to meet near where you live."},
        {"id": "wm-day", "term": "day-opportunities", "name": "Day opportunities",
         "description": "Day centres and planned days out.", "parent_id": "wm-community"},
        {"id": "wm-groups", "term": "clubs-and-groups", "name": "Clubs and groups",
         "description": "Clubs, groups and friends to meet.", "parent_id": "wm-community"},
        {"id": "wm-work", "term": "work-and-learning", "name": "Work and learning",
         "description": "Help to get a job or learn new skills."},
        {"id": "wm-jobs", "term": "help-to-find-work", "name": "Help to find work",
         "description": "Job coaching, work placements and supported jobs.",
         "parent_id": "wm-work"},
        {"id": "wm-courses", "term": "courses-and-training", "name": "Courses and training",
         "description": "Courses for everyday skills and for work.", "parent_id": "wm-work"},
        {"id": "wm-home", "term": "support-at-home", "name": "Support at home",
         "description": "A support worker helps you at home and when you go out."},
    ],
}  # fmt: skip
#: Which term of :data:`COUNCIL_TAXONOMY` tags each type of service (creative ones: none).
COUNCIL_TERM_FOR = {
    OfferCategory.day_opportunity: "day-opportunities",
    OfferCategory.social: "clubs-and-groups",
    OfferCategory.employment: "help-to-find-work",
    OfferCategory.training: "courses-and-training",
    OfferCategory.home_support: "support-at-home",
}


def build_demo(
    session: Session, *, persons: int = DEFAULT_PERSONS, seed: int = DEFAULT_SEED
) -> DemoLogins:
    """Fill an empty, migrated database with the Westmere demo; flush, do not commit."""
    if persons < 1:
        raise ValueError("the demo needs at least one person")
    return _Builder(session, random.Random(seed), seed).build(persons)


class _Builder:
    def __init__(self, session: Session, rng: random.Random, seed: int) -> None:
        self.s = session
        self.s.autoflush = False  # rows are flushed in batches below
        self.rng = rng
        self.seed = seed
        self.now = utcnow().replace(microsecond=0)
        self.password_hash = hash_password(DEMO_PASSWORD)
        self.logins = DemoLogins()

    # -- helpers ---------------------------------------------------------------------------

    def user(self, role: Role, email: str, name: str, council: Council, **kw: object) -> User:
        user = User(
            email=email,
            display_name=name,
            role=role,
            password_hash=self.password_hash,
            council_id=council.id,
            **kw,
        )
        self.s.add(user)
        return user

    def totp_secret(self, role: Role) -> str:
        digest = hashlib.sha256(f"tapestry-demo:{self.seed}:{role}".encode()).digest()
        return base64.b32encode(digest[:20]).decode("ascii")

    def schedule(self, sessions: int) -> dict[str, list[str]]:
        slots = self.rng.sample(
            [(d, t) for d in DAYS[:6] for t in TIMES_OF_DAY],
            k=sessions,
        )
        out: dict[str, list[str]] = {}
        for day in DAYS:
            parts = [t for t in TIMES_OF_DAY if (day, t) in slots]
            if parts:
                out[day] = parts
        return out

    def rules(self, i: int, pattern: dict[str, list[str]]) -> list[dict[str, object]]:
        """The offer's sessions as RFC 5545 rules, weekly since two months ago; every fifth
        offer meets every other week instead (no rng: the other draws stay as they were)."""
        start = (self.now - timedelta(days=60)).date()
        rules: list[dict[str, object]] = weekly_rules(pattern, start)
        if i % 5 == 4:
            for rule in rules:
                rule["rrule"] = str(rule["rrule"]).replace("INTERVAL=1", "INTERVAL=2")
        return rules

    def point(self, area: str) -> tuple[float, float]:
        _, lat, lon, _, spread = AREAS[area]
        return (
            round(lat + self.rng.uniform(-spread, spread), 5),
            round(lon + self.rng.uniform(-spread, spread) * 1.6, 5),
        )

    # -- the council -----------------------------------------------------------------------

    def build(self, n_persons: int) -> DemoLogins:
        council = Council(name="Westmere Council", slug="westmere", areas=list(AREAS))
        self.s.add(council)
        self.s.flush()
        tags = {slug: OutcomeTag(slug=slug, label=label) for slug, label, _ in TAGS}
        self.s.add_all(tags.values())

        commissioner = self.user(
            Role.commissioner,
            f"commissioner@{EMAIL_DOMAIN}",
            "Ruth Okonjo",
            council,
            totp_secret=self.totp_secret(Role.commissioner),
        )
        admin = self.user(
            Role.admin,
            f"admin@{EMAIL_DOMAIN}",
            "Gareth Lloyd",
            council,
            totp_secret=self.totp_secret(Role.admin),
        )
        self.s.flush()

        persons = self.persons(council, tags, n_persons, commissioner)
        advocates = self.advocates(council, persons)
        providers = self.providers(council)
        offers = self.offers(providers, tags)
        self.council_taxonomy(council, admin, offers)
        self.offer_facts = {o.id: offer_facts(o, self.now.date()) for o in offers}
        past = self.past_round(council, persons, offers, commissioner)
        current = self.open_round(council, persons, offers, commissioner)
        self.proposals(council, persons, commissioner, current)
        append_event(
            self.s,
            "demo.built",
            actor_user_id=admin.id,
            object_type="council",
            object_id=council.id,
            details={"seed": self.seed, "persons": len(persons), "offers": len(offers)},
        )
        self.s.flush()

        featured = persons[0]
        self.logins.accounts = {
            Role.person: featured.user.email,
            Role.advocate: advocates[0].email,
            Role.provider: providers[0].members[0].user.email,
            Role.commissioner: commissioner.email,
            Role.admin: admin.email,
        }
        self.logins.totp_secrets = {
            Role.commissioner: commissioner.totp_secret or "",
            Role.admin: admin.totp_secret or "",
        }
        self.logins.counts = {
            "persons": len(persons),
            "advocates": len(advocates),
            "providers": len(providers),
            "offers": len(offers),
            "rounds": 2,
            "open_round_id": current.id,
            "past_round_id": past.id,
        }
        return self.logins

    # -- people ----------------------------------------------------------------------------

    def persons(
        self,
        council: Council,
        tags: dict[str, OutcomeTag],
        n: int,
        commissioner: User,
    ) -> list[PersonProfile]:
        rng = self.rng
        area_names = list(AREAS)
        area_weights = [AREAS[a][3] for a in area_names]
        out: list[PersonProfile] = []
        for i in range(n):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if i == 0:
                # The person whose login is printed: a clear story for a first visit.
                first, last, area, band = "Sam", "Taylor", "Northtown", AgeBand.age_18_24
                wishes = ["work-with-children", "paid-work", "travel-independently"]
                need = 4
            else:
                area = rng.choices(area_names, area_weights)[0]
                band = rng.choices(list(AGE_WEIGHTS), list(AGE_WEIGHTS.values()))[0]
                wishes = rng.sample([slug for slug, _, _ in TAGS], k=rng.choice([1, 2, 2, 3]))
                need = rng.choices(range(len(NEED_WEIGHTS)), NEED_WEIGHTS)[0]
                if band == AgeBand.age_65_plus and rng.random() < 0.5:
                    wishes = list(dict.fromkeys(["make-friends", *wishes]))[:3]
            name = f"{first} {last}"
            email = f"{first}.{last}{i + 1}".lower().replace("'", "")
            user = self.user(Role.person, f"{email}@{EMAIL_DOMAIN}", name, council)
            if i == 0:
                user.email = f"sam@{EMAIL_DOMAIN}"
            lat, lon = self.point(area)
            # A made-up postcode in the area's district (no rng: the other draws stay as they
            # were); the point stands for it, so the demo shows distances.
            postcode = f"{DISTRICTS[area]} {i % 9 + 1}{INWARD[i % 20]}{INWARD[i * 7 % 20]}"
            words = [rng.choice(next(t[2] for t in TAGS if t[0] == slug)) for slug in wishes]
            support = "older-age" if band == AgeBand.age_65_plus else rng.choice(SUPPORT[:5])
            consented = i == 0 or rng.random() < 0.8
            profile = PersonProfile(
                user=user,
                display_name=name,
                area=area,
                age_band=band,
                equity_attributes=(
                    {
                        "ethnicity": rng.choices(ETHNICITY, ETHNICITY_WEIGHTS)[0],
                        "sex": rng.choice(SEX),
                        "support": support,
                    }
                    if consented
                    else None
                ),
                equity_consent_at=self.now - timedelta(days=rng.randint(30, 400))
                if consented
                else None,
                assessed_needs=NEEDS[0] if i == 0 else rng.choice(NEEDS),
                need_level=need,
                need_set_by_user_id=commissioner.id,
                need_set_at=self.now - timedelta(days=rng.randint(20, 300)),
                aspirations_text=" ".join(words[:2]),
                max_travel_km=rng.choice([3, 5, 8, 10, 15, 20, 30]) if i else 10,
                availability=self.availability(),
                postcode=postcode,
                latitude=lat,
                longitude=lon,
                outcome_tags=sorted((tags[s] for s in wishes), key=lambda t: t.slug),
            )
            if i == 0:
                profile.aspirations_text = (
                    "I want a job in a children's nursery. "
                    "I'd like to catch the bus into town by myself."
                )
            self.s.add(profile)
            out.append(profile)
        self.s.flush()
        return out

    def availability(self) -> dict[str, list[str]]:
        rng = self.rng
        if rng.random() < 0.08:
            return {}
        days = sorted(rng.sample(range(7), k=rng.randint(2, 6)))
        out: dict[str, list[str]] = {}
        for d in days:
            parts = [t for t in TIMES_OF_DAY if rng.random() < 0.6] or ["morning"]
            out[DAYS[d]] = parts
        return out

    def advocates(self, council: Council, persons: list[PersonProfile]) -> list[User]:
        rng = self.rng
        names = [
            "Priya Sharma", "Martin Hale", "Denise Foster", "Kofi Boateng", "Helen Marsh",
            "Steve Rowe", "Anita Desai", "Paul Kerr", "Lucy Barnes", "Omar Farouk",
            "Jenny Watts", "Chris Doyle",
        ]  # fmt: skip
        advocates = []
        for i, name in enumerate(names):
            slug = name.split()[0].lower()
            email = f"advocate@{EMAIL_DOMAIN}" if i == 0 else f"{slug}.advocate@{EMAIL_DOMAIN}"
            advocates.append(self.user(Role.advocate, email, name, council))
        self.s.flush()
        # About a third of persons have an advocate. The printed advocate acts for Sam.
        supported = [persons[0]] + rng.sample(
            persons[1:], k=min(len(persons) - 1, len(persons) // 3)
        )
        for j, person in enumerate(supported):
            advocate = advocates[0] if j == 0 else rng.choice(advocates)
            granted = j == 0 or rng.random() < 0.85
            requested_at = self.now - timedelta(days=rng.randint(5, 200))
            self.s.add(
                Consent(
                    person_id=person.id,
                    advocate_id=advocate.id,
                    can_view=True,
                    can_draft=granted and (j == 0 or rng.random() < 0.8),
                    can_submit=granted and (j == 0 or rng.random() < 0.5),
                    status=ConsentStatus.granted if granted else ConsentStatus.requested,
                    requested_at=requested_at,
                    granted_at=requested_at + timedelta(days=2) if granted else None,
                )
            )
        self.s.flush()
        return advocates

    # -- providers and offers --------------------------------------------------------------

    def providers(self, council: Council) -> list[Provider]:
        rng = self.rng
        out = []
        for i, (name, description, _) in enumerate(PROVIDERS):
            slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
            slug = "-".join(part for part in slug.split("-") if part)
            kind = i % 3
            identifier = (
                f"Charity {rng.randint(1_000_000, 1_199_999)}"
                if kind == 0
                else f"Company {rng.randint(10_000_000, 15_999_999)}"
                if kind == 1
                else f"CQC 1-{rng.randint(100_000_000, 999_999_999)}"
            )
            served = sorted(rng.sample(list(AREAS), k=rng.randint(2, len(AREAS))))
            provider = Provider(
                council_id=council.id,
                name=name,
                slug=slug,
                description=description,
                website=f"https://{slug}.example.org",
                email=f"hello@{slug}.example.org",
                phone=f"0121 496 {rng.randint(0, 9999):04d}",
                registered_identifier=identifier,
                areas_served=served,
            )
            email = f"provider@{EMAIL_DOMAIN}" if i == 0 else f"{slug}@{EMAIL_DOMAIN}"
            user = self.user(Role.provider, email, f"{name} team", council)
            provider.members.append(ProviderMember(user=user))
            self.s.add(provider)
            out.append(provider)
        self.s.flush()
        return out

    def offers(self, providers: list[Provider], tags: dict[str, OutcomeTag]) -> list[Offer]:
        rng = self.rng
        by_category: dict[OfferCategory, list[Provider]] = {}
        for provider, (_, _, categories) in zip(providers, PROVIDERS, strict=True):
            for category in categories:
                by_category.setdefault(category, []).append(provider)
        # Every template once, then more of them until there are 80, spread over providers.
        templates = list(OFFER_TEMPLATES)
        while len(templates) < 80:
            templates.append(rng.choice(OFFER_TEMPLATES))
        # Provider 0 (whose login is printed) runs the nursery placement in Northtown.
        out = []
        for i, t in enumerate(templates):
            provider = providers[0] if i == 0 else rng.choice(by_category[t.category])
            area = "Northtown" if i == 0 else rng.choice(provider.areas_served or list(AREAS))
            lat, lon = self.point(area)
            status = OfferStatus.published
            if i in (33, 47, 61):
                status = OfferStatus.draft
            elif i == 72:
                status = OfferStatus.withdrawn
            lo, hi = t.price_pounds
            price = rng.randrange(lo, hi + 1, 5) * 100 + rng.choice([0, 0, 0, 50])
            title = t.title if i < len(OFFER_TEMPLATES) else f"{t.title} ({area})"
            offer = Offer(
                provider=provider,
                title=title,
                description=t.description,
                category=t.category,
                min_age_band=t.ages[0],
                max_age_band=t.ages[1],
                min_need_level=t.need[0],
                max_need_level=t.need[1],
                eligibility_text=t.eligibility_text,
                price_pence=price,
                capacity=rng.randint(*t.capacity),
                area=None if t.online else area,
                location="Online" if t.online else f"{rng.choice(VENUES)}, {area}",
                # Made-up postcodes (no rng: the demo's other draws stay as they were).
                town=None if t.online else area,
                postcode=None
                if t.online
                else f"{DISTRICTS[area]} {i % 9 + 1}{'ABDEFGHJL'[i % 9]}Q",
                latitude=None if t.online else lat,
                longitude=None if t.online else lon,
                schedule=(pattern := self.schedule(rng.randint(1, 4))),
                schedule_rules=self.rules(i, pattern),
                accessibility=rng.choice(ACCESS),
                status=status,
                published_at=None if status == OfferStatus.draft else self.now - timedelta(days=60),
                withdrawn_at=self.now - timedelta(days=3)
                if status == OfferStatus.withdrawn
                else None,
                outcome_tags=sorted((tags[s] for s in t.tags), key=lambda x: x.slug),
            )
            self.s.add(offer)
            out.append(offer)
        self.s.flush()
        return out

    def council_taxonomy(self, council: Council, admin: User, offers: list[Offer]) -> None:
        """Publish the council's own taxonomy and tag the offers with its terms (no rng: the
        demo's other draws stay as they were)."""
        load_taxonomies(self.s, council, COUNCIL_TAXONOMY, actor_user_id=admin.id)
        terms = {
            t.code: t
            for t in self.s.scalars(
                select(CouncilTaxonomyTerm)
                .join(CouncilTaxonomy)
                .where(CouncilTaxonomy.council_id == council.id)
            )
        }
        for offer in offers:
            code = COUNCIL_TERM_FOR.get(offer.category)
            offer.council_terms = [terms[code]] if code else []
        self.s.flush()

    # -- rounds ----------------------------------------------------------------------------

    def budget_amount(self, person: PersonProfile) -> int:
        # More need, more money: £150 plus £60 a level, give or take, rounded to £10.
        pounds = 150 + 60 * person.need_level + self.rng.randint(-4, 8) * 10
        return max(100, pounds // 10 * 10) * 100

    def ranked_choices(
        self, person: PersonProfile, offers: Sequence[Offer], budget: Budget, k: int
    ) -> list[Offer]:
        """Up to ``k`` offers a person would pick: mostly among their best matches."""
        by_id = {o.id: o for o in offers}
        facts = [self.offer_facts[o.id] for o in offers]
        matches = [m for m in match_offers(facts_for(person, budget), facts) if m.fits]
        pool = matches[: max(k + 3, 8)]
        picked = self.rng.sample(pool, k=min(k, len(pool)))
        picked.sort(key=lambda m: -m.score + self.rng.uniform(-12, 12))
        return [by_id[int(m.offer.id)] for m in picked]

    def past_round(
        self,
        council: Council,
        persons: list[PersonProfile],
        offers: list[Offer],
        commissioner: User,
    ) -> Round:
        rng = self.rng
        live = [o for o in offers if o.status != OfferStatus.draft]
        round_ = Round(
            council_id=council.id,
            name="Autumn 2026",
            pot_pence=None,
            status=RoundStatus.published,
            mechanism=Mechanism.stable,
            seed=self.seed,
            max_choices=5,
            created_by_user_id=commissioner.id,
            opened_at=self.now - timedelta(days=200),
            closed_at=self.now - timedelta(days=170),
            published_at=self.now - timedelta(days=160),
            choice_deadline=self.now - timedelta(days=170),
        )
        self.s.add(round_)
        self.s.flush()
        places = {o.id: RoundOffer(round_id=round_.id, offer_id=o.id, places=o.capacity)
                  for o in live}  # fmt: skip
        self.s.add_all(places.values())
        run = SolverRun(
            round_id=round_.id,
            label="Autumn 2026 allocation",
            status=RunStatus.succeeded,
            progress=100,
            mechanism=Mechanism.stable,
            parameters={"source": "demo history"},
            seed=self.seed,
            started_at=self.now - timedelta(days=165),
            finished_at=self.now - timedelta(days=165),
            created_by_user_id=commissioner.id,
            message="Demo history: places drawn so that most people got an early choice.",
        )
        self.s.add(run)
        self.s.flush()
        round_.published_run_id = run.id
        # Two thirds of persons (and always Sam) took part; most got a place they chose.
        taking_part = [persons[0]] + [p for p in persons[1:] if rng.random() < 0.66]
        budgets = {}
        for person in taking_part:
            budget = Budget(
                round_id=round_.id,
                person_id=person.id,
                amount_pence=self.budget_amount(person),
                set_by_user_id=commissioner.id,
            )
            self.s.add(budget)
            budgets[person.id] = budget
        self.s.flush()
        taken = dict.fromkeys(places, 0)
        for person in taking_part:
            choices = self.ranked_choices(person, live, budgets[person.id], rng.randint(2, 4))
            if person is persons[0]:
                # Sam went to travel training last time, and can rate it.
                choices = [o for o in live if o.title == "Travel training"][:1]
            for rank, offer in enumerate(choices, start=1):
                self.s.add(
                    Choice(
                        round_id=round_.id,
                        person_id=person.id,
                        offer_id=offer.id,
                        rank=rank,
                        created_by_user_id=person.user_id,
                    )
                )
            budget = budgets[person.id]
            for rank, offer in enumerate(choices, start=1):
                if taken[offer.id] >= places[offer.id].places:
                    continue
                if offer.price_pence > budget.remaining_pence or offer.price_pence == 0:
                    continue
                accepted = person is persons[0] or rng.random() < 0.9
                allocation = Allocation(
                    round_id=round_.id,
                    run=run,
                    person_id=person.id,
                    offer_id=offer.id,
                    rank=rank,
                    utility=round(100 * 0.8 ** (rank - 1)),
                    price_pence=offer.price_pence,
                    status=AllocationStatus.accepted if accepted else AllocationStatus.declined,
                    decided_at=self.now - timedelta(days=rng.randint(150, 158)),
                    decided_by_user_id=person.user_id,
                    explanation=_history_explanation(rank),
                )
                self.s.add(allocation)
                if accepted:
                    # Last round's places were confirmed by their providers and have started.
                    allocation.confirmed_at = allocation.decided_at + timedelta(days=3)
                    allocation.start_date = (allocation.decided_at + timedelta(days=14)).date()
                    taken[offer.id] += 1
                    budget.committed_pence += offer.price_pence
                    allocation.commitment = Commitment(
                        budget=budget,
                        provider_id=offer.provider_id,
                        amount_pence=offer.price_pence,
                        created_at=allocation.decided_at,
                        created_by_user_id=person.user_id,
                    )
                    if person is not persons[0] and rng.random() < 0.45:
                        rating = rng.choices([5, 4, 3, 2, 1], [38, 34, 16, 8, 4])[0]
                        self.s.add(
                            Feedback(
                                offer_id=offer.id,
                                person_id=person.id,
                                allocation=allocation,
                                rating=rating,
                                comment=rng.choice(COMMENTS[rating])
                                if rng.random() < 0.7
                                else None,
                                created_by_user_id=person.user_id,
                            )
                        )
                break
        for offer_id, n in taken.items():
            places[offer_id].places_taken = n
        self.s.flush()
        return round_

    def open_round(
        self,
        council: Council,
        persons: list[PersonProfile],
        offers: list[Offer],
        commissioner: User,
    ) -> Round:
        rng = self.rng
        published = [o for o in offers if o.status == OfferStatus.published]
        round_ = Round(
            council_id=council.id,
            name="Spring 2027",
            pot_pence=None,
            status=RoundStatus.open,
            mechanism=Mechanism.welfare,
            rules=[{"type": "coverage_floor", "attribute": "area", "min_share": 0.5}],
            time_limit_s=30.0,
            seed=self.seed,
            max_choices=5,
            created_by_user_id=commissioner.id,
            opened_at=self.now - timedelta(days=7),
            choice_deadline=self.now + timedelta(days=21),
        )
        self.s.add(round_)
        self.s.flush()
        # The council buys about a third of each offer's standing capacity this round, so
        # places are scarce and popular offers are oversubscribed, as in life.
        self.s.add_all(
            RoundOffer(
                round_id=round_.id,
                offer_id=o.id,
                places=max(1, round(o.capacity * OPEN_ROUND_PLACES_SHARE)),
            )
            for o in published
        )
        budgets = [
            Budget(
                round_id=round_.id,
                person_id=p.id,
                amount_pence=self.budget_amount(p),
                set_by_user_id=commissioner.id,
            )
            for p in persons
        ]
        self.s.add_all(budgets)
        self.s.flush()
        # Most people have chosen already; Sam (the printed login) has not, to try it out.
        first_choices_pence = 0
        for i, person in enumerate(persons):
            if i == 0 or rng.random() >= 0.7:
                continue
            for rank, offer in enumerate(
                self.ranked_choices(person, published, budgets[i], rng.randint(1, 5)), start=1
            ):
                self.s.add(
                    Choice(
                        round_id=round_.id,
                        person_id=person.id,
                        offer_id=offer.id,
                        rank=rank,
                        created_by_user_id=person.user_id,
                    )
                )
                if rank == 1:
                    first_choices_pence += offer.price_pence
        # The pot covers about two thirds of what everyone's first choice would cost, rounded
        # down to £100: it binds, so the commissioner has real trade-offs to make.
        round_.pot_pence = (
            first_choices_pence * OPEN_ROUND_POT_SHARE_PERCENT // 100 // 10_000 * 10_000
        )
        self.s.flush()
        return round_

    def proposals(
        self,
        council: Council,
        persons: list[PersonProfile],
        commissioner: User,
        current: Round,
    ) -> None:
        rng = self.rng
        for i, (title, description, tag_slugs) in enumerate(PROPOSALS):
            proposer = rng.choice(persons[1:]) if len(persons) > 1 else persons[0]
            proposal = Proposal(
                council_id=council.id,
                proposer_id=proposer.id,
                title=title,
                description=description,
                area=proposer.area,
                tags=list(tag_slugs),
            )
            if i == 0:
                proposal.status = ProposalStatus.under_consideration
                proposal.response = "We are talking to the leisure centres about this."
            elif i == 4:
                proposal.status = ProposalStatus.commissioned
                proposal.response = "Paws for Thought will offer this in Spring 2027."
                proposal.commissioned_round_id = current.id
            if proposal.status != ProposalStatus.open:
                proposal.responded_by_user_id = commissioner.id
                proposal.responded_at = self.now - timedelta(days=rng.randint(1, 20))
            self.s.add(proposal)
            self.s.flush()
            supporters = {proposer.id}
            supporters.update(
                p.id for p in rng.sample(persons, k=min(len(persons), rng.randint(0, 40)))
            )
            supporters.discard(persons[0].id)  # Sam has supported nothing yet
            supporters.add(proposer.id)
            self.s.add_all(
                ProposalSupport(proposal_id=proposal.id, person_id=pid)
                for pid in sorted(supporters)
            )
        self.s.flush()


# Each area's made-up postcode district ("WM" is not a real postcode area).
DISTRICTS = {
    "Westmere": "WM1",
    "Northtown": "WM2",
    "Little Haddon": "WM3",
    "Ashby Green": "WM4",
    "Millbrook": "WM5",
    "Eastwick": "WM6",
}
#: Letters an inward code may end with (Royal Mail leaves out C, I, K, M, O and V).
INWARD = "ABDEFGHJLNPQRSTUWXYZ"
VENUES = [
    "The Old School Hall", "St Mary's Community Centre", "Riverside House", "The Library",
    "Unit 4, Mill Lane", "The Pavilion", "Market Street Hub", "Station Road Studios",
]  # fmt: skip
ACCESS = [
    "Step-free entrance, accessible toilet and a quiet room.",
    "Ground floor only. Changing Places toilet on site.",
    "Hearing loop. Easy read information. Staff know Makaton.",
    "Step-free. Large print and easy read information on request.",
]


def _history_explanation(rank: int) -> dict[str, object]:
    # Codes: the words are made when they are read, in the reader's language and voice
    # (web.services.explanations).
    return {"source": "history", "rank": rank}
