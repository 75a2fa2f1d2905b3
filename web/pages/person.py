"""People who use services: about me, offers matched for them, choices, places and feedback.

Every view here is for signed-in persons only (checked once, by ``guard_blueprint``).

The views are written once and can be mounted again for someone acting for a person:
:func:`person_pages` builds a blueprint whose views find "who is acting" and "for whom" through
the ``load`` function it is given, and templates link with relative endpoints
(``url_for('.about_me')``). Services check what the actor may do (``web.services.acting``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.accounts import User
from models.people import DAYS, TIMES_OF_DAY, PersonProfile
from models.providers import OfferCategory
from web import easy_read
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import (
    acting,
    allocations,
    catalogue,
    choices,
    consents,
    explanations,
    feedback,
    places_cycle,
    profiles,
    proposals,
)
from web.services import easy_read as easy_read_words
from web.services.errors import Conflict, InvalidInput, NotAllowed, NotFound, ServiceError
from web.services.matching import (
    KM_PER_MILE,
    describe_ages,
    describe_slots,
    format_money,
    slots_from_schedule,
)
from web.services.recurrence import describe_rules
from web.services.words import N_, _

Loader = Callable[[], tuple[User, PersonProfile]]

# The most miles "How far I can travel" takes (about 193 km, inside the profile's 200 km).
MAX_TRAVEL_MILES = 120

DAY_WORDS = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}

# The menu: (endpoint, words). Relative endpoints, so a mounted copy links to itself.
#: The person's menu: each page and its words (translated when the menu is shown).
MENU = [
    ("dashboard", N_("Home")),
    ("about_me", N_("About me")),
    ("matches", N_("Matched for you")),
    ("offers", N_("All services")),
    ("my_choices", N_("My choices")),
    ("my_places", N_("My place")),
    ("ideas", N_("Ideas")),
]

_loaders: dict[str, Loader] = {}


def _load_self() -> tuple[User, PersonProfile]:
    user = current_account()
    if user is None or user.person_profile is None:
        abort(403)
    return user, user.person_profile


def person_pages(name: str, url_prefix: str, load: Loader) -> Blueprint:
    """A blueprint with every person page; ``load()`` gives (actor, person) for a request."""
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    _loaders[name] = load
    for rule, endpoint, view, methods in _ROUTES:
        blueprint.add_url_rule(rule, endpoint, view, methods=methods)
    blueprint.context_processor(_menu)
    blueprint.add_app_template_global(may, "may")
    blueprint.add_app_template_global(easy_read.switch, "easy_read_switch")
    return blueprint


def _who() -> tuple[User, PersonProfile]:
    if "person_ctx" not in g:
        g.person_ctx = _loaders[request.blueprint or ""]()
    return g.person_ctx  # type: ignore[no-any-return]


def may(scope: acting.Scope) -> bool:
    """For templates: whether the one signed in may do ``scope`` ("draft" to change things,
    "submit" to say yes or no) for the person on this page. A form they may not use is not
    shown; the page says what they can ask the person instead."""
    cache: dict[str, bool] = g.setdefault("person_may", {})
    if scope not in cache:
        actor, person = _who()
        cache[scope] = acting.may(get_session(), actor, person, scope)
    return cache[scope]


def _menu() -> dict[str, Any]:
    current = (request.endpoint or "").rpartition(".")[2]
    items = [
        {"href": url_for(f".{ep}"), "text": _(words), "active": ep == current} for ep, words in MENU
    ]
    return {
        "nav_items": items,
        "money": format_money,
        "describe_slots": lambda schedule: describe_slots(slots_from_schedule(schedule)),
        "describe_rules": describe_rules,
        "describe_ages": describe_ages,
        "category_words": catalogue.CATEGORY_LABELS,
    }


def reader_for(actor: User, person: PersonProfile) -> explanations.Reader:
    """Who reads this person's pages: the person ("you"), or someone acting for them, who
    reads about the person by name."""
    if actor.id == person.user_id:
        return explanations.PERSON
    return explanations.Reader(name=person.display_name)


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    actor, person = _who()
    errors: dict[str, str] = context.pop("errors", None) or {}
    html = render_template(
        easy_read.templates(template, person),
        actor=actor,
        person=person,
        errors=errors,
        page_has_errors=bool(errors),
        **context,
    )
    return html, status


def _fail(error: ServiceError) -> NoReturn:
    """Turn a refusal into the matching HTTP answer (not for InvalidInput or Conflict)."""
    if isinstance(error, NotFound):
        abort(404)
    if isinstance(error, NotAllowed):
        abort(403)
    raise error


# --- home ------------------------------------------------------------------------------------


def dashboard() -> Any:
    actor, person = _who()
    s = get_session()
    try:
        about = profiles.about_me(s, actor, person)
        mine = choices.my_choices(s, actor, person)
        my_places = allocations.my_places(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    # Requests to help: only the person answers them, so only the person is shown them.
    asking = (
        consents.consents_for_person(s, actor, person).requests
        if actor.id == person.user_id
        else []
    )
    return _page(
        "person/dashboard.html",
        about=about,
        mine=mine,
        my_places=my_places,
        asking=asking,
    )


# --- about me --------------------------------------------------------------------------------


def about_me() -> Any:
    actor, person = _who()
    s = get_session()
    try:
        about = profiles.about_me(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "aspirations_text": person.aspirations_text or "",
        "tags": {t.slug for t in person.outcome_tags},
        "max_travel_miles": (
            "" if person.max_travel_km is None else str(round(person.max_travel_km / KM_PER_MILE))
        ),
        "availability": {day: set(parts) for day, parts in (person.availability or {}).items()},
        "postcode": person.postcode or "",
    }
    if request.method == "POST":
        availability = {day: request.form.getlist(f"free-{day}") for day in DAYS}
        values = {
            "aspirations_text": request.form.get("aspirations_text", ""),
            "tags": set(request.form.getlist("tags")),
            "max_travel_miles": request.form.get("max_travel_miles", ""),
            "availability": {day: set(parts) for day, parts in availability.items()},
            "postcode": request.form.get("postcode", ""),
        }
        km, travel_error = _travel_km(values["max_travel_miles"])
        try:
            profiles.update_about_me(
                s,
                actor,
                person,
                aspirations_text=values["aspirations_text"],
                tag_slugs=request.form.getlist("tags"),
                max_travel_km=km,
                availability=availability,
                postcode=values["postcode"],
            )
        except InvalidInput as invalid:
            errors = dict(invalid.errors)
        except ServiceError as error:
            return _fail(error)
        if travel_error:
            errors["max_travel_miles"] = travel_error
        if errors:
            s.rollback()
        else:
            s.commit()
            flash(_("We have saved your changes."), "success")
            return redirect(url_for(".about_me"))
    return _page(
        "person/about_me.html",
        status=400 if errors else 200,
        about=about,
        values=values,
        errors=errors,
        days=DAYS,
        day_words=DAY_WORDS,
        times=TIMES_OF_DAY,
    )


def _travel_km(text: str) -> tuple[int | None, str | None]:
    """Miles as typed on the page -> whole kilometres for the profile, or the error to show.

    People here think in miles, and the match reasons speak in miles; the profile keeps km.
    """
    text = text.strip()
    if not text:
        return None, None
    miles = catalogue.parse_whole_number(text)
    if miles is None or miles < 0:
        return None, _("How far you can travel must be a whole number of miles, like 5")
    if miles > MAX_TRAVEL_MILES:
        return None, _(
            "How far you can travel must be %(most)s miles or less", most=MAX_TRAVEL_MILES
        )
    return round(miles * KM_PER_MILE), None


# --- offers ----------------------------------------------------------------------------------


def matches() -> Any:
    actor, person = _who()
    s = get_session()
    try:
        matched = catalogue.matched_for_you(s, actor, person)
        mine = choices.my_choices(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    return _page(
        "person/matches.html",
        round=matched.round,
        items=matched.items,
        more=matched.more,
        left_out=matched.left_out,
        mine=mine,
        chosen={c.offer.id for c in mine.choices},
    )


def offers() -> Any:
    actor, person = _who()
    s = get_session()
    args = request.args
    values: dict[str, Any] = {
        "q": args.get("q", ""),
        "category": args.get("category", ""),
        "area": args.get("area", ""),
        "max_price": args.get("max_price", ""),
        "within_budget": args.get("within_budget") == "yes",
    }
    page_number = max(1, catalogue.parse_whole_number(args.get("page", "1")) or 1)
    errors: dict[str, str] = {}
    results = None
    try:
        results = catalogue.search_offers(
            s,
            actor,
            person,
            text=values["q"],
            category=values["category"],
            area=values["area"],
            max_price=values["max_price"],
            within_budget=values["within_budget"],
            page=page_number,
        )
    except InvalidInput as invalid:
        errors = invalid.errors
    except ServiceError as error:
        return _fail(error)
    try:
        mine = choices.my_choices(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    query = {k: v for k, v in values.items() if v and k != "within_budget"}
    if values["within_budget"]:
        query["within_budget"] = "yes"
    return _page(
        "person/offers.html",
        status=400 if errors else 200,
        values=values,
        errors=errors,
        results=results,
        query=query,
        areas=catalogue.offer_areas(s, person),
        categories=[(c.value, catalogue.CATEGORY_LABELS[c]) for c in OfferCategory],
        mine=mine,
        chosen={c.offer.id for c in mine.choices},
    )


def offer(offer_id: int) -> Any:
    return _offer_page(offer_id)


def _offer_page(offer_id: int, errors: dict[str, str] | None = None) -> Any:
    actor, person = _who()
    s = get_session()
    try:
        detail = catalogue.offer_detail(s, actor, person, offer_id)
        mine = choices.my_choices(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    return _page(
        "person/offer.html",
        status=400 if errors else 200,
        detail=detail,
        mine=mine,
        chosen={c.offer.id for c in mine.choices},
        errors=errors or {},
    )


# --- choices ---------------------------------------------------------------------------------


def my_choices() -> Any:
    actor, person = _who()
    try:
        mine = choices.my_choices(get_session(), actor, person)
    except ServiceError as error:
        return _fail(error)
    return _page("person/choices.html", mine=mine)


def add_choice() -> Any:
    actor, person = _who()
    s = get_session()
    offer_id = catalogue.parse_whole_number(request.form.get("offer_id", ""))
    if offer_id is None:
        abort(400)
    try:
        choices.add_choice(s, actor, person, offer_id)
    except InvalidInput as invalid:
        s.rollback()
        return _offer_page(offer_id, errors={"add-choice": invalid.errors["offer_id"]})
    except Conflict as conflict:
        s.rollback()
        flash(conflict.message, "error")
        return redirect(url_for(".offer", offer_id=offer_id))
    except ServiceError as error:
        return _fail(error)
    s.commit()
    flash(_("We have added it to your choices."), "success")
    return redirect(url_for(".my_choices"))


def change_choice(offer_id: int) -> Any:
    actor, person = _who()
    s = get_session()
    action = request.form.get("action", "")
    try:
        if action == "remove":
            choices.remove_choice(s, actor, person, offer_id)
            message = _("We have removed it from your choices.")
        elif action in ("up", "down"):
            choices.move_choice(s, actor, person, offer_id, action)  # type: ignore[arg-type]
            message = _("We have changed the order of your choices.")
        else:
            abort(400)
    except Conflict as conflict:
        s.rollback()
        flash(conflict.message, "error")
        return redirect(url_for(".my_choices"))
    except ServiceError as error:
        return _fail(error)
    s.commit()
    flash(message, "success")
    return redirect(url_for(".my_choices") + f"#choice-{offer_id}")


# --- places ----------------------------------------------------------------------------------


def my_places() -> Any:
    actor, person = _who()
    s = get_session()
    try:
        found = allocations.my_places(s, actor, person)
        # What the person last saw is theirs: someone acting for them looks without moving it.
        waiting = places_cycle.waiting_lists(s, actor, person, remember=actor.id == person.user_id)
    except ServiceError as error:
        return _fail(error)
    s.commit()
    places = [*found.allocations, *found.earlier]
    reader = reader_for(actor, person)
    budget = {"budget_pence": found.budget.amount_pence if found.budget else None}
    # The same reasons, in the words the person reads: Easy Read, or plain.
    words_for = easy_read_words.place_words if person.easy_read else explanations.place_words
    try:
        allocations.check_may_decide(s, actor, person)
        may_answer = True
    except NotAllowed:
        may_answer = False
    return _page(
        "person/places.html",
        found=found,
        waiting=waiting,
        words={a.id: words_for(s, a.explanation, reader, **budget) for a in places},
        no_place_words=words_for(s, found.explanation, reader, **budget),
        can_give_up=places_cycle.can_give_up,
        has_started=feedback.has_started,
        deadline=places_cycle.describe_deadline,
        may_answer=may_answer,
    )


def _find_place(found: allocations.MyPlaces, allocation_id: int) -> Any:
    place = next((a for a in [*found.allocations, *found.earlier] if a.id == allocation_id), None)
    if place is None:
        abort(404)
    return place


def give_up_place(allocation_id: int) -> Any:
    actor, person = _who()
    s = get_session()
    try:
        found = allocations.my_places(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    place = _find_place(found, allocation_id)
    if request.method == "GET":
        # Someone who may not say yes or no is told so on the page (``may`` in the template).
        return _page("person/give_up_place.html", place=place, can=places_cycle.can_give_up(place))
    try:
        places_cycle.give_up_place(s, actor, person, allocation_id)
    except Conflict as conflict:
        s.rollback()
        flash(conflict.message, "error")
        return redirect(url_for(".my_places") + f"#place-{place.id}")
    except ServiceError as error:
        return _fail(error)
    s.commit()
    flash(_("The place is given up. Your money is back in your budget."), "success")
    return redirect(url_for(".my_places"))


def decide_place(allocation_id: int) -> Any:
    actor, person = _who()
    s = get_session()
    try:
        found = allocations.my_places(s, actor, person)
    except ServiceError as error:
        return _fail(error)
    place = _find_place(found, allocation_id)
    if place.status != "offered":
        # Answered already (or the place went): say so instead of asking again.
        flash(_answered_words(place.status), "success" if place.status == "accepted" else "error")
        return redirect(url_for(".my_places") + f"#place-{place.id}")
    errors: dict[str, str] = {}
    if request.method == "POST":
        answer = request.form.get("answer", "")
        try:
            if answer == "accept":
                allocations.accept_place(s, actor, person, allocation_id)
                message = _("You said yes. The place is yours.")
            elif answer == "decline" and request.form.get("confirm") != "yes":
                # Turning a place down cannot be undone: ask once more, on a page of its own.
                allocations.check_may_decide(s, actor, person)
                return _page("person/confirm_decline.html", place=place, found=found)
            elif answer == "decline":
                allocations.decline_place(s, actor, person, allocation_id)
                message = _("You said no. We will offer the place to someone else.")
            else:
                raise InvalidInput({"answer": _("Choose yes or no")})
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        except Conflict as conflict:
            s.rollback()
            errors = {"answer": conflict.message}
        except ServiceError as error:
            return _fail(error)
        else:
            s.commit()
            flash(message, "success")
            return redirect(url_for(".my_places"))
    return _page(
        "person/decide_place.html",
        status=400 if errors else 200,
        place=place,
        found=found,
        errors=errors,
    )


def _answered_words(status: str) -> str:
    return {
        "accepted": _("You have said yes to this place already."),
        "declined": _("You said no to this place."),
        "expired": _("This offer ended because there was no answer in time."),
        "given_up": _("You gave up this place."),
        "provider_declined": _("The service cannot take you, so this place has ended."),
    }.get(status, _("This place has changed, so there is nothing to answer."))


def rate_place(allocation_id: int) -> Any:
    actor, person = _who()
    s = get_session()
    try:
        allocation, existing = feedback.feedback_for_place(s, actor, person, allocation_id)
    except Conflict as conflict:
        flash(conflict.message, "error")
        return redirect(url_for(".my_places"))
    except ServiceError as error:
        return _fail(error)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "rating": "" if existing is None else str(existing.rating),
        "comment": "" if existing is None else existing.comment or "",
    }
    if request.method == "POST":
        values = {
            "rating": request.form.get("rating", ""),
            "comment": request.form.get("comment", ""),
        }
        try:
            feedback.rate_place(
                s, actor, person, allocation_id, rating=values["rating"], comment=values["comment"]
            )
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        except ServiceError as error:
            return _fail(error)
        else:
            s.commit()
            flash(_("Thank you. We have saved what you said."), "success")
            return redirect(url_for(".my_places"))
    return _page(
        "person/rate_place.html",
        status=400 if errors else 200,
        allocation=allocation,
        values=values,
        errors=errors,
    )


# --- ideas -----------------------------------------------------------------------------------


def ideas() -> Any:
    actor, person = _who()
    try:
        views = proposals.list_proposals(get_session(), actor, person)
    except ServiceError as error:
        return _fail(error)
    return _page("person/ideas.html", views=views, status_words=proposals.STATUS_WORDS)


def new_idea() -> Any:
    actor, person = _who()
    s = get_session()
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"title": "", "description": "", "tags": set()}
    if request.method == "POST":
        values = {
            "title": request.form.get("title", ""),
            "description": request.form.get("description", ""),
            "tags": set(request.form.getlist("tags")),
        }
        try:
            proposals.propose(
                s,
                actor,
                person,
                title=values["title"],
                description=values["description"],
                tag_slugs=request.form.getlist("tags"),
            )
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        except ServiceError as error:
            return _fail(error)
        else:
            s.commit()
            flash(_("Thank you. We have shared your idea with the council."), "success")
            return redirect(url_for(".ideas"))
    return _page(
        "person/new_idea.html",
        status=400 if errors else 200,
        values=values,
        errors=errors,
        tags=profiles.all_outcome_tags(s),
    )


def support_idea(proposal_id: int) -> Response:
    actor, person = _who()
    s = get_session()
    try:
        if request.form.get("action") == "withdraw":
            proposals.withdraw_support(s, actor, person, proposal_id)
            message = _("You no longer support this idea.")
        else:
            proposals.support(s, actor, person, proposal_id)
            message = _("You support this idea.")
    except ServiceError as error:
        _fail(error)
    s.commit()
    flash(message, "success")
    return redirect(url_for(".ideas") + f"#idea-{proposal_id}")


# --- Easy Read ---------------------------------------------------------------------------------


def easy_read_setting() -> Any:
    """The Easy Read question (from the account page), and the switch at the top of every
    person page: both post here, and go back where they came from (``next``). Someone who
    may only look is told so instead of shown the question."""
    actor, person = _who()
    s = get_session()
    back = easy_read.safe_back(request.values.get("next"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            on = easy_read_words.set_easy_read(
                s, actor, person, easy_read_words.parse_choice(request.form.get("easy_read"))
            )
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        except ServiceError as error:
            return _fail(error)
        else:
            s.commit()
            flash(_("Easy Read is on.") if on else _("Easy Read is off."), "success")
            return redirect(back or url_for("account.account_home"))
    return _page(
        "person/easy_read_setting.html",
        status=400 if errors else 200,
        errors=errors,
        back=back,
    )


_ROUTES: list[tuple[str, str, Callable[..., Any], list[str]]] = [
    ("/", "dashboard", dashboard, ["GET"]),
    ("/about-me", "about_me", about_me, ["GET", "POST"]),
    ("/matches", "matches", matches, ["GET"]),
    ("/services", "offers", offers, ["GET"]),
    ("/services/<int:offer_id>", "offer", offer, ["GET"]),
    ("/choices", "my_choices", my_choices, ["GET"]),
    ("/choices/add", "add_choice", add_choice, ["POST"]),
    ("/choices/<int:offer_id>", "change_choice", change_choice, ["POST"]),
    ("/place", "my_places", my_places, ["GET"]),
    ("/place/<int:allocation_id>", "decide_place", decide_place, ["GET", "POST"]),
    ("/place/<int:allocation_id>/rate", "rate_place", rate_place, ["GET", "POST"]),
    ("/place/<int:allocation_id>/give-up", "give_up_place", give_up_place, ["GET", "POST"]),
    ("/ideas", "ideas", ideas, ["GET"]),
    ("/ideas/new", "new_idea", new_idea, ["GET", "POST"]),
    ("/ideas/<int:proposal_id>/support", "support_idea", support_idea, ["POST"]),
    ("/easy-read", "easy_read", easy_read_setting, ["GET", "POST"]),
]

bp = person_pages("person", "/person", _load_self)
guard_blueprint(bp, Role.person)

# Pages under /person kept in other modules (such as "Who can help me") show the same menu.
SHARED_MENU_BLUEPRINTS = frozenset({"person_consents"})


@bp.app_context_processor
def _menu_for_other_person_pages() -> dict[str, Any]:
    if request.blueprint not in SHARED_MENU_BLUEPRINTS:
        return {}
    items = [{"href": url_for(f"person.{ep}"), "text": _(words)} for ep, words in MENU]
    return {"nav_items": items}
