"""A provider's offer form, one question per page, with a page to check the answers.

A new offer: *Add a service* starts a draft kept on the server (:mod:`web.services.
offer_drafts`); each question posts, then goes on to the next (or, when it was changed from
the check page, back to it); the check page lists every answer with a *Change* link and saves
the offer as a draft offer. An offer that exists: its page lists the same answers, each with a
*Change* link to its question, which saves straight away and goes back.

The views belong to the provider blueprint (:mod:`web.pages.provider`): signed-in providers
only, their own organisation only (another's offer or draft answers 404).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from models.people import AGE_BANDS, DAYS, NEED_LEVEL_MAX, TIMES_OF_DAY
from models.providers import OfferDraft
from web.db import get_session
from web.pages.provider import _me, _offer_values, _own_offer, _provider, _request_id, bp
from web.services import offer_drafts
from web.services.catalogue import CATEGORY_LABELS
from web.services.errors import InvalidInput, NotAllowed, NotFound
from web.services.matching import DAY_NAMES
from web.services.offer_drafts import Question
from web.services.openreferral_taxonomies import council_term_options
from web.services.profiles import all_outcome_tags
from web.services.recurrence import describe_rule, weekly_rules


def _own_draft(draft_id: int) -> OfferDraft:
    try:
        return offer_drafts.own_draft(get_session(), _me(), _provider(), draft_id)
    except (NotFound, NotAllowed):
        abort(404)


def _question(slug: str, *, new: bool) -> Question:
    try:
        asked = offer_drafts.question(slug)
    except NotFound:
        abort(404)
    if asked.new_only and not new:
        abort(404)
    return asked


def _posted(asked: Question) -> dict[str, Any]:
    """The question's fields as the form sent them."""
    values: dict[str, Any] = {}
    for name in asked.fields:
        if name == "schedule":
            values[name] = {day: request.form.getlist(f"on_{day}") for day in DAYS}
        elif name in asked.lists:
            values[name] = request.form.getlist(name)
        else:
            values[name] = request.form.get(name, "")
    return values


def _options() -> dict[str, Any]:
    db = get_session()
    provider = _provider()
    return {
        "category_options": list(CATEGORY_LABELS.items()),
        "tag_options": [(t.slug, t.label) for t in all_outcome_tags(db)],
        "council_term_options": council_term_options(db, provider.council_id),
        "area_options": [(a, a) for a in provider.areas_served or []],
        "age_options": [(b.value, b.value) for b in AGE_BANDS],
        "days": [(day, DAY_NAMES[day]) for day in DAYS],
        "times": [(t, t.title()) for t in TIMES_OF_DAY],
    }


def _render_question(
    asked: Question,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    back: str,
    caption: str,
    button: str,
) -> str:
    schedule = values.get("schedule") or {}
    for day in DAYS:
        values[f"on_{day}"] = list(schedule.get(day, []))
    return render_template(
        "provider/offer_question.html",
        asked=asked,
        values=values,
        errors=errors,
        page_has_errors=bool(errors),
        back=back,
        caption=caption,
        button=button,
        **_options(),
    )


# -- a new offer -------------------------------------------------------------------------------


@bp.route("/offers/new", methods=["GET", "POST"])
def new_offer() -> str | Response:
    """What adding a service asks, and a button that starts the questions."""
    if request.method == "POST":
        db = get_session()
        draft = offer_drafts.start_draft(db, _me(), _provider())
        db.commit()
        first = offer_drafts.QUESTIONS[0].slug
        return redirect(url_for("provider.draft_question", draft_id=draft.id, slug=first))
    drafts = [
        {
            "name": (d.answers or {}).get("title") or "A service not named yet",
            "href": _resume_url(d),
        }
        for d in offer_drafts.open_drafts(get_session(), _me(), _provider())
    ]
    return render_template(
        "provider/offer_start.html",
        questions=offer_drafts.questions_for(new=True),
        drafts=drafts,
    )


def _resume_url(draft: OfferDraft) -> str:
    """Where to go on with a draft: its first question not answered, else the check page."""
    missing = offer_drafts.unanswered(draft)
    if missing:
        return url_for("provider.draft_question", draft_id=draft.id, slug=missing[0].slug)
    return url_for("provider.draft_check", draft_id=draft.id)


@bp.route("/offers/drafts/<int:draft_id>/<slug>", methods=["GET", "POST"])
def draft_question(draft_id: int, slug: str) -> str | Response:
    draft = _own_draft(draft_id)
    asked = _question(slug, new=True)
    changing = request.args.get("change") == "1"
    check = url_for("provider.draft_check", draft_id=draft_id)
    values: dict[str, Any] = dict(draft.answers or {})
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        values = {**values, **_posted(asked)}
        try:
            offer_drafts.answer_question(db, _me(), _provider(), draft, slug, values)
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
        else:
            db.commit()
            after = offer_drafts.next_question(slug)
            if changing or after is None or not offer_drafts.unanswered(draft):
                return redirect(check)
            return redirect(url_for("provider.draft_question", draft_id=draft_id, slug=after.slug))
    before = offer_drafts.previous_question(slug)
    if changing:
        back = check
    elif before is None:
        back = url_for("provider.new_offer")
    else:
        back = url_for("provider.draft_question", draft_id=draft_id, slug=before.slug)
    order = [q.slug for q in offer_drafts.questions_for(new=True)]
    return _render_question(
        asked,
        values,
        errors,
        back=back,
        caption=f"Add a service: question {order.index(slug) + 1} of {len(order)}",
        button="Continue",
    )


@bp.route("/offers/drafts/<int:draft_id>/check", methods=["GET", "POST"])
def draft_check(draft_id: int) -> str | Response:
    """Check your answers, then save the service (as a draft offer, not yet published)."""
    draft = _own_draft(draft_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        try:
            offer = offer_drafts.finish_draft(
                db, _me(), _provider(), draft, request_id=_request_id()
            )
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
            draft = _own_draft(draft_id)
        else:
            db.commit()
            flash(f"“{offer.title}” is saved as a draft. Publish it when it is ready.", "success")
            return redirect(url_for("provider.edit_offer", offer_id=offer.id))
    missing = offer_drafts.unanswered(draft)
    rows = _answer_rows(
        draft.answers or {},
        offer_drafts.questions_for(new=True),
        lambda slug: url_for("provider.draft_question", draft_id=draft_id, slug=slug, change="1"),
    )
    return render_template(
        "provider/offer_check.html",
        rows=rows,
        errors=_linked_errors(errors, draft_id),
        page_has_errors=bool(errors),
        missing=[
            (q.heading, url_for("provider.draft_question", draft_id=draft_id, slug=q.slug))
            for q in missing
        ],
        back=url_for(
            "provider.draft_question",
            draft_id=draft_id,
            slug=offer_drafts.questions_for(new=True)[-1].slug,
        ),
    )


def _linked_errors(errors: dict[str, str], draft_id: int) -> list[dict[str, str]]:
    """Each problem on the check page, linked to the question that asks its field."""
    linked = []
    for field, message in errors.items():
        asked = next(
            (q for q in offer_drafts.QUESTIONS if field in q.fields or field == "price_pence"
             and "price" in q.fields),
            offer_drafts.QUESTIONS[0],
        )  # fmt: skip
        href = url_for("provider.draft_question", draft_id=draft_id, slug=asked.slug, change="1")
        linked.append({"text": message, "href": href})
    return linked


# -- an offer that exists ----------------------------------------------------------------------


@bp.get("/offers/<int:offer_id>")
def edit_offer(offer_id: int) -> str:
    """The service: whether people can see it, its places, and every answer to change."""
    offer = _own_offer(offer_id)
    rows = _answer_rows(
        _offer_values(offer),
        offer_drafts.questions_for(new=False),
        lambda slug: url_for("provider.change_offer", offer_id=offer_id, slug=slug),
    )
    # An offer saved with days and parts of the day alone runs weekly at those times.
    rules = offer.schedule_rules or weekly_rules(offer.schedule or {}, None)
    when = [describe_rule(r) for r in rules]
    return render_template("provider/offer.html", offer=offer, rows=rows, when=when)


@bp.route("/offers/<int:offer_id>/change/<slug>", methods=["GET", "POST"])
def change_offer(offer_id: int, slug: str) -> str | Response:
    offer = _own_offer(offer_id)
    asked = _question(slug, new=False)
    values = _offer_values(offer)
    errors: dict[str, str] = {}
    if request.method == "POST":
        db = get_session()
        values = {**values, **_posted(asked)}
        try:
            offer_drafts.change_offer(
                db, _me(), _provider(), offer.id, slug, values, request_id=_request_id()
            )
        except InvalidInput as error:
            db.rollback()
            errors = error.errors
        else:
            db.commit()
            flash("Your change is saved.", "success")
            return redirect(url_for("provider.edit_offer", offer_id=offer_id))
    return _render_question(
        asked,
        values,
        errors,
        back=url_for("provider.edit_offer", offer_id=offer_id),
        caption=offer.title,
        button="Save",
    )


# -- answers in words --------------------------------------------------------------------------


def _answer_rows(
    values: dict[str, Any], questions: list[Question], change: Any
) -> list[dict[str, Any]]:
    """One row per question: its short name, the answer in words (lines), its Change link."""
    options = _options()
    tag_names = dict(options["tag_options"])
    term_names = dict(options["council_term_options"])
    rows = []
    for asked in questions:
        lines: list[str] = []
        if any(f in values for f in asked.fields):
            lines = _answer_lines(asked.slug, values, tag_names, term_names)
        rows.append(
            {
                "key": _SHORT_NAMES[asked.slug],
                "lines": lines or ["Not given"],
                "href": change(asked.slug),
                "question": asked.heading,
            }
        )
    return rows


_SHORT_NAMES = {
    "name": "Name",
    "description": "What happens",
    "type": "Type",
    "helps-with": "Helps people to",
    "price": "Price of one place",
    "places": "Places",
    "areas": "Areas",
    "address": "Where",
    "who": "Who it is for",
    "when": "When",
    "access": "Access",
    "languages": "Languages and who to ask",
}


def _answer_lines(
    slug: str, values: dict[str, Any], tag_names: dict[str, str], term_names: dict[str, str]
) -> list[str]:
    text = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    if slug == "name":
        return [text["title"]] if text.get("title") else []
    if slug == "description":
        return [text["description"]] if text.get("description") else []
    if slug == "type":
        return [CATEGORY_LABELS.get(text.get("category") or "", "")] if text.get("category") else []
    if slug == "helps-with":
        lines = [tag_names.get(s, s) for s in text.get("tags") or []]
        return lines + [term_names.get(t, t) for t in text.get("council_terms") or []]
    if slug == "price":
        price = text.get("price") or ""
        return [f"£{price}"] if price else []
    if slug == "places":
        return [str(text.get("capacity"))] if text.get("capacity") not in (None, "") else []
    if slug == "areas":
        main = text.get("area") or ""
        if not main:
            return ["Online or everywhere"]
        others = [a for a in text.get("other_areas") or [] if a != main]
        return [f"Main area: {main}"] + ([f"Also: {', '.join(others)}"] if others else [])
    if slug == "address":
        parts = ("location", "address_line", "town", "postcode")
        return [str(text[p]) for p in parts if text.get(p)]
    if slug == "who":
        return _who_lines(text)
    if slug == "when":
        schedule = text.get("schedule") or {}
        return [
            f"{DAY_NAMES[day]}: {', '.join(p for p in schedule[day])}"
            for day in DAYS
            if schedule.get(day)
        ]
    if slug == "access":
        return [text["accessibility"]] if text.get("accessibility") else []
    if slug == "languages":
        lines = []
        if text.get("languages"):
            lines.append(f"Languages besides English: {text['languages']}")
        if text.get("contact_name"):
            lines.append(f"Who to ask: {text['contact_name']}")
        return lines
    return []


def _who_lines(text: dict[str, Any]) -> list[str]:
    lines = []
    low, top = text.get("min_age_band") or "", text.get("max_age_band") or ""
    if low or top:
        lines.append(f"Ages: {low or 'any'} to {top or 'any'}")
    low, top = (str(text.get(f"{end}_need_level", "") or "") for end in ("min", "max"))
    if low or top:
        lines.append(f"Need levels: {low or '0'} to {top or NEED_LEVEL_MAX}")
    if text.get("eligibility_text"):
        lines.append(text["eligibility_text"])
    return lines or ["Anyone"]
