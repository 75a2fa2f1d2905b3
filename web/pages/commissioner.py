"""Council commissioners: rounds, budgets, policy, allocation runs, results, money, voice.

Every view here is for signed-in commissioners only (checked once, by `guard_blueprint`).
Views parse the form, call one service, commit on success and redirect; a service's
:class:`InvalidInput` is shown beside each field and summarised at the top, any other
:class:`ServiceError` as a message on the page it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from models.accounts import Council, User
from models.rounds import ACTIVE_RUN_STATUSES, Mechanism, Round, RoundStatus, RunStatus, SolverRun
from models.voice import ProposalStatus
from web import charts
from web.auth import Role, current_account, guard_blueprint
from web.db import get_session
from web.services import (
    allocation_runs,
    allocations,
    budgets,
    place_moves,
    results,
    rounds,
    rule_checks,
    voice,
)
from web.services.catalogue import parse_pounds, parse_whole_number
from web.services.errors import InvalidInput, NotFound, ServiceError
from web.services.jobs import DatabaseJobRunner
from web.services.matching import format_money
from web.services.words import count as count_words

bp = Blueprint("commissioner", __name__, url_prefix="/commissioner")
guard_blueprint(bp, Role.commissioner)

#: Seconds between automatic reloads of a run page while the run is going.
REFRESH_S = 3


@bp.app_template_filter("money")
def money_filter(pence: int | None) -> str:
    return "none" if pence is None else format_money(int(pence))


@bp.app_template_filter("count")
def count_filter(n: float, noun: str, many: str | None = None) -> str:
    """``{{ n | count("place") }}``: "1 place", "2 places" (see ``web.services.words``)."""
    return count_words(n if isinstance(n, float) else int(n), noun, many)


@bp.app_template_filter("percent")
def percent_filter(share: float | None) -> str:
    return "none" if share is None else charts.percent(float(share))


def _actor() -> User:
    user = current_account()
    assert user is not None  # the blueprint's guard let only commissioners in
    return user


def _round(round_id: int) -> Round:
    try:
        return rounds.get_round(get_session(), _actor(), round_id)
    except NotFound:
        abort(404)


def _run(round_: Round, run_id: int) -> SolverRun:
    try:
        return allocation_runs.get_run(get_session(), round_, run_id)
    except NotFound:
        abort(404)


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    return render_template(template, page_has_errors=bool(context["errors"]), **context), status


def _refuse(error: ServiceError, to: str) -> Response:
    get_session().rollback()
    flash(error.message, "error")
    return redirect(to)


def _commit_and_go(message: str, to: str) -> Response:
    get_session().commit()
    flash(message, "success")
    return redirect(to)


def _save(
    change: Callable[[], object], message: str, to: str
) -> tuple[Response | None, dict[str, str]]:
    """Make a change through a service and go to ``to`` with ``message``. If the service finds
    the input wrong, nothing is kept and its errors come back for the form (no response); if it
    refuses for another reason, nothing is kept and the user goes to ``to`` with the reason."""
    try:
        change()
    except InvalidInput as invalid:
        get_session().rollback()
        return None, invalid.errors
    except ServiceError as error:
        return _refuse(error, to), {}
    return _commit_and_go(message, to), {}


# -- home -------------------------------------------------------------------------------------


@bp.get("/")
def dashboard() -> tuple[str, int]:
    s = get_session()
    return _page("commissioner/dashboard.html", summaries=rounds.list_rounds(s, _actor()))


# -- rounds -----------------------------------------------------------------------------------


def _round_values(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the round form; returns the values for the service and errors found here."""
    errors: dict[str, str] = {}
    pot_text = form.get("pot", "").strip()
    pot = parse_pounds(pot_text) if pot_text else None
    if pot_text and pot is None:
        errors["pot"] = "Enter the pot in pounds, like 250000 or 1,500.50"
    deadline = None
    parts = [form.get(f"deadline-{p}", "").strip() for p in ("day", "month", "year")]
    if any(parts):
        day, month, year = (parse_whole_number(p) for p in parts)
        try:
            if day is None or month is None or year is None:
                raise ValueError("not a date")
            deadline = datetime(year, month, day, 23, 59, tzinfo=UTC)
        except ValueError:
            errors["choice_deadline"] = "Enter a real date, like 27 3 2027"
    # Digits 0 to 9 only: int() would also take "٣", "²" (an error) or "1_0".
    max_choices = parse_whole_number(form.get("max_choices", "5")) or 0
    answer_days = parse_whole_number(form.get("answer_days", "7")) or 0
    values = {
        "name": form.get("name", ""),
        "pot_pence": pot,
        "choice_deadline": deadline,
        "areas": form.getlist("areas"),
        "max_choices": max_choices,
        "answer_days": answer_days,
    }
    if errors:
        # Show every problem at once: the service's checks of the fields that could be read.
        errors = {**rounds.round_detail_errors(get_session(), _actor(), **values), **errors}
    return values, errors


def _council_areas() -> list[str]:
    council = get_session().get(Council, _actor().council_id)
    return list(council.areas or []) if council else []


@bp.route("/rounds/new", methods=["GET", "POST"])
def new_round() -> Any:
    s = get_session()
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        values, errors = _round_values(form)
        if not errors:
            try:
                round_ = rounds.create_round(s, _actor(), **values)
            except InvalidInput as invalid:
                s.rollback()
                errors = invalid.errors
            else:
                return _commit_and_go(
                    f"Round {round_.name} is ready. Now choose its offers and places.",
                    url_for(".places", round_id=round_.id),
                )
    return _page(
        "commissioner/round_form.html",
        400 if errors else 200,
        errors=errors,
        form=None,
        values=form,
        round=None,
        areas=_council_areas(),
    )


@bp.route("/rounds/<int:round_id>/edit", methods=["GET", "POST"])
def edit_round(round_id: int) -> Any:
    round_ = _round(round_id)
    s = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = _round_values(request.form)
        if not errors:
            done, errors = _save(
                lambda: rounds.update_round(s, _actor(), round_, **values),
                "The round's details are saved.",
                url_for(".round_page", round_id=round_id),
            )
            if done is not None:
                return done
        values_in = request.form
    else:
        deadline = round_.choice_deadline
        values_in = {
            "name": round_.name,
            "pot": "" if round_.pot_pence is None else f"{round_.pot_pence / 100:.2f}",
            "deadline-day": deadline.day if deadline else "",
            "deadline-month": deadline.month if deadline else "",
            "deadline-year": deadline.year if deadline else "",
            "max_choices": round_.max_choices,
            "answer_days": round_.answer_days,
            "areas": round_.areas,
        }
    return _page(
        "commissioner/round_form.html",
        400 if errors else 200,
        errors=errors,
        form=None,
        values=values_in,
        round=round_,
        areas=_council_areas(),
    )


@bp.get("/rounds/<int:round_id>")
def round_page(round_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    s = get_session()
    return _page(
        "commissioner/round.html",
        round=round_,
        summary=rounds.round_summary(s, round_),
        runs=allocation_runs.list_runs(s, round_),
        active=allocation_runs.active_run(s, round_),
        describe_rule=results.describe_rule,
    )


@bp.route("/rounds/<int:round_id>/places", methods=["GET", "POST"])
def places(round_id: int) -> Any:
    round_ = _round(round_id)
    s = get_session()
    offers = rounds.eligible_offers(s, _actor())
    current = {ro.offer_id: ro for ro in round_.round_offers}
    errors: dict[str, str] = {}
    if request.method == "POST":
        wanted: dict[int, int] = {}
        for offer in offers:
            text = request.form.get(f"places-{offer.id}", "").strip()
            if not text:
                continue
            places = parse_whole_number(text)
            if places is None or places < 0:
                errors[f"places-{offer.id}"] = f"Enter places for {offer.title} as a whole number"
                continue
            wanted[offer.id] = places
        if not errors:
            done, errors = _save(
                lambda: rounds.set_places(s, _actor(), round_, wanted),
                "Places are saved.",
                url_for(".round_page", round_id=round_id),
            )
            if done is not None:
                return done
    return _page(
        "commissioner/places.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        offers=offers,
        current=current,
        posted=request.form if request.method == "POST" else None,
    )


@bp.route("/rounds/<int:round_id>/open", methods=["GET", "POST"])
def open_round(round_id: int) -> Any:
    round_ = _round(round_id)
    to = url_for(".round_page", round_id=round_id)
    if request.method == "POST" and _confirmed():
        try:
            rounds.open_round(get_session(), _actor(), round_)
        except ServiceError as error:
            return _refuse(error, to)
        return _commit_and_go("The round is open. People can now choose.", to)
    if round_.status != RoundStatus.draft:
        flash("Only a draft round can be opened.", "error")
        return redirect(to)
    return _page(
        "commissioner/confirm.html",
        round=round_,
        question="Are you sure you want to open this round for choices?",
        words=rounds.open_words(get_session(), round_),
        action=url_for(".open_round", round_id=round_id),
        back=to,
        yes="Yes, open the round",
        no="No, keep it as a draft",
        danger=False,
        breaches=[],
        values={},
    )


def _confirmed() -> bool:
    """Whether the form is the "Yes" of a confirmation page (a bare POST only asks)."""
    return request.form.get("confirm") == "yes"


@bp.route("/rounds/<int:round_id>/close", methods=["GET", "POST"])
def close_round(round_id: int) -> Any:
    round_ = _round(round_id)
    to = url_for(".round_page", round_id=round_id)
    if request.method == "POST" and _confirmed():
        try:
            rounds.close_round(get_session(), _actor(), round_)
        except ServiceError as error:
            return _refuse(error, to)
        return _commit_and_go("The round is closed for choices. You can run the allocation.", to)
    if round_.status != RoundStatus.open:
        flash("Only an open round can be closed.", "error")
        return redirect(to)
    return _page(
        "commissioner/confirm.html",
        round=round_,
        question="Are you sure you want to close this round for choices?",
        words=rounds.close_words(round_),
        action=url_for(".close_round", round_id=round_id),
        back=to,
        yes="Yes, close the round",
        no="No, keep it open",
        danger=True,
        breaches=[],
        values={},
    )


# -- budgets ----------------------------------------------------------------------------------


@bp.route("/rounds/<int:round_id>/budgets", methods=["GET", "POST"])
def budgets_page(round_id: int) -> Any:
    round_ = _round(round_id)
    s = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        amount = parse_pounds(request.form.get("amount", ""))
        person_id = parse_whole_number(request.form.get("person_id", "")) or 0
        if person_id <= 0:
            errors["person_id"] = "Choose a person"
        if amount is None:
            errors["amount"] = "Enter the budget in pounds, like 320 or 95.50"
        if not errors:
            done, errors = _save(
                lambda: budgets.set_budget(s, _actor(), round_, person_id, amount or 0),
                "The budget is saved.",
                url_for(".budgets_page", round_id=round_id),
            )
            if done is not None:
                return done
    return _page(
        "commissioner/budgets.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        budgets=budgets.list_budgets(s, round_),
        people=budgets.people_in_council(s, round_),
        values=request.form,
    )


@bp.route("/rounds/<int:round_id>/budgets/import", methods=["GET", "POST"])
def import_budgets(round_id: int) -> Any:
    round_ = _round(round_id)
    s = get_session()
    errors: dict[str, str] = {}
    preview = None
    text = ""
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                errors["file"] = "Save the file as CSV UTF-8 and try again"
        else:
            text = request.form.get("csv", "")
        if not errors and request.form.get("action") == "import":
            try:
                count = budgets.import_budget_csv(s, _actor(), round_, text)
            except InvalidInput:
                s.rollback()
                errors["file"] = "Nothing was imported: some rows are wrong. Fix them and try again"
            except ServiceError as error:
                return _refuse(error, url_for(".budgets_page", round_id=round_id))
            else:
                return _commit_and_go(
                    f"{count_words(count, 'budget was')} imported.",
                    url_for(".budgets_page", round_id=round_id),
                )
        if not errors or "file" not in errors or text:
            preview = budgets.preview_budget_csv(s, round_, text)
            if preview.file_error:
                errors["file"] = preview.file_error
            elif not preview.ok:
                errors.setdefault(
                    "file",
                    f"{count_words(len(preview.errors), 'row is')} wrong. Nothing will be "
                    "imported until every row is right",
                )
    return _page(
        "commissioner/budgets_import.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        preview=preview,
        csv_text=text,
    )


# -- policy -----------------------------------------------------------------------------------


def _seconds(text: str) -> float:
    """Seconds as typed ("30", "2.5"), or 0 (refused by the service) when not a number of
    them: float() alone would take "nan", "inf", "1_0" and other digits than 0 to 9."""
    cleaned = text.strip()
    return float(cleaned) if re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,3})?", cleaned) else 0


def _share(text: str) -> float | None:
    """A percentage as typed ("30", "30%", "12.5"), as a share; None when it is not one."""
    cleaned = text.strip().removesuffix("%").strip()
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3})?", cleaned):
        return None  # float() would take "nan", "inf" and "1_0"
    return float(cleaned) / 100


@bp.route("/rounds/<int:round_id>/policy", methods=["GET", "POST"])
def policy(round_id: int) -> Any:
    round_ = _round(round_id)
    s = get_session()
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        rules_now = list(round_.rules or [])
        action = form.get("action", "save")
        if action.startswith("remove-"):
            index = parse_whole_number(action.removeprefix("remove-"))
            rules_now = [r for i, r in enumerate(rules_now) if i != index]
        elif action == "add-rule":
            rule: dict[str, Any] = {
                "type": form.get("rule_type", ""),
                "attribute": form.get("rule_attribute", ""),
            }
            if rule["type"] == "coverage_floor":
                share = _share(form.get("rule_share", ""))
                rule["min_share"] = -1 if share is None else share
                values = [v.strip() for v in form.get("rule_values", "").split(",") if v.strip()]
                if values:
                    rule["values"] = values
            elif rule["type"] == "coverage_gap":
                share = _share(form.get("rule_share", ""))
                rule["max_gap"] = -1 if share is None else share
            rules_now.append(rule)
        time_limit = _seconds(form.get("time_limit_s", str(round_.time_limit_s)))
        seed_given = parse_whole_number(form.get("seed", str(round_.seed)))
        if seed_given is None:
            errors["seed"] = "Enter the seed as a whole number"
        seed = seed_given or 0
        placements = parse_whole_number(form.get("max_placements", str(round_.max_placements))) or 0
        if not errors:
            try:
                rounds.set_policy(
                    s,
                    _actor(),
                    round_,
                    mechanism=form.get("mechanism", ""),
                    rules=rules_now,
                    time_limit_s=time_limit,
                    seed=seed,
                    max_placements=placements,
                )
            except InvalidInput as invalid:
                s.rollback()
                errors = {
                    ("new_rule" if k == f"rules-{len(rules_now) - 1}" and action == "add-rule"
                     else k): v
                    for k, v in invalid.errors.items()
                }  # fmt: skip
            except ServiceError as error:
                return _refuse(error, url_for(".round_page", round_id=round_id))
            else:
                message = {"add-rule": "The rule is added."}.get(action, "The policy is saved.")
                if action.startswith("remove-"):
                    message = "The rule is removed."
                return _commit_and_go(message, url_for(".policy", round_id=round_id))
    return _page(
        "commissioner/policy.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        values=form if request.method == "POST" else None,
        attributes=rounds.available_attributes(s, round_),
        rule_types=rounds.RULE_TYPES,
        describe_rule=results.describe_rule,
        mechanisms=list(Mechanism),
    )


# -- runs -------------------------------------------------------------------------------------


@bp.post("/rounds/<int:round_id>/runs")
def start_run(round_id: int) -> Response:
    round_ = _round(round_id)
    s = get_session()
    form = request.form
    mechanism = form.get("mechanism") or None
    rules = [] if form.get("without_rules") == "yes" else None
    try:
        run = allocation_runs.start_run(
            s,
            DatabaseJobRunner(s),
            _actor(),
            round_,
            label=form.get("label") or None,
            mechanism=mechanism,
            rules=rules,
        )
    except ServiceError as error:
        return _refuse(error, url_for(".round_page", round_id=round_id))
    return _commit_and_go(
        "The allocation run has started.",
        url_for(".run_page", round_id=round_id, run_id=run.id),
    )


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>")
def run_page(round_id: int, run_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    run = _run(round_, run_id)
    s = get_session()
    if run.status in ACTIVE_RUN_STATUSES:
        allocation_runs.sync_with_job(s, DatabaseJobRunner(s), run)
        s.commit()
    report = None
    breaches: list[str] = []
    failure: dict[str, Any] | None = None
    if run.status == RunStatus.succeeded:
        report = results.run_report(s, round_, run)
        breaches = allocations.run_breaches(run)
        result = allocation_runs.run_result(run) or {}
        if result.get("status") in rule_checks.NO_ALLOCATION:
            failure = {
                "headline": rule_checks.failure_words(result),
                "reasons": rule_checks.diagnosis_words(allocation_runs.run_instance(run), result),
            }
    others = [
        r
        for r in allocation_runs.list_runs(s, round_)
        if r.id != run.id and r.status == RunStatus.succeeded
    ]
    return _page(
        "commissioner/run.html",
        round=round_,
        run=run,
        report=report,
        breaches=breaches,
        failure=failure,
        can_publish=allocations.can_publish(round_, run),
        charts=_report_charts(report) if report else {},
        active=run.status in ACTIVE_RUN_STATUSES,
        refresh_s=REFRESH_S,
        others=others,
        describe_rule=results.describe_rule,
        value_words=results.VALUE_WORDS,
    )


def _finished_run(round_id: int, run_id: int) -> tuple[Round, SolverRun]:
    """The round and its finished run (404 for any other run)."""
    round_ = _round(round_id)
    run = _run(round_, run_id)
    if run.status != RunStatus.succeeded:
        abort(404)
    return round_, run


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/people")
def run_person(round_id: int, run_id: int) -> tuple[str, int]:
    round_, run = _finished_run(round_id, run_id)
    text = request.args.get("q", "").strip()[:200]
    found = results.find_people(get_session(), run, text) if text else []
    return _page("commissioner/run_people.html", round=round_, run=run, q=text, found=found)


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/people/<int:person_id>")
def run_person_case(round_id: int, run_id: int, person_id: int) -> tuple[str, int]:
    round_, run = _finished_run(round_id, run_id)
    try:
        case = results.person_case(get_session(), run, person_id)
    except NotFound:
        abort(404)
    return _page("commissioner/run_person.html", round=round_, run=run, case=case)


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/unplaced")
def run_unplaced(round_id: int, run_id: int) -> tuple[str, int]:
    round_, run = _finished_run(round_id, run_id)
    args = request.args
    need_text = args.get("need", "").strip()
    listing = results.unplaced_people(
        get_session(),
        run,
        area=args.get("area") or None,
        support=args.get("support") or None,
        need=parse_whole_number(need_text),
        page=args.get("page", 1, type=int) or 1,
    )
    filters = {k: args.get(k, "") for k in ("area", "support", "need")}
    return _page(
        "commissioner/run_unplaced.html", round=round_, run=run, listing=listing, filters=filters
    )


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/results.csv")
def run_results_csv(round_id: int, run_id: int) -> Response:
    _, run = _finished_run(round_id, run_id)
    text = results.results_csv(get_session(), run)
    return _download(text, f"round-{round_id}-run-{run_id}-results.csv", "text/csv")


def _report_charts(report: results.RunReport) -> dict[str, Any]:
    bar = charts.Bar
    out: dict[str, Any] = {
        "coverage": {
            c.attribute: charts.bar_chart(
                f"Share of people placed by {c.label.lower()}",
                [bar(g.value, (g.share,)) for g in c.groups],
                value_format=charts.percent,
                max_value=1.0,
            )
            for c in report.coverage
        },
        "ranks": charts.bar_chart(
            "How many people got each choice",
            [bar(label, (n,)) for label, n in report.ranks],
        ),
        "spend": charts.bar_chart(
            "Money spent against the pot",
            [bar("Spent", (report.spend_pence,)), bar("All budgets", (report.budgets_pence,))],
            value_format=charts.pounds,
            marker=("Pot", report.pot_pence) if report.pot_pence is not None else None,
        ),
        "need": charts.bar_chart(
            "People left without a place, by need level",
            [bar(f"Need {row.need}", (row.unplaced,)) for row in report.unplaced_by_need],
        ),
        "oversubscribed": charts.bar_chart(
            "Oversubscribed offers: people who chose each, and places",
            [bar(o.title, (o.chosen_by, o.places)) for o in report.oversubscribed[:15]],
            series=("Chose it", "Places"),
        ),
    }
    if report.rule_prices:
        out["prices"] = charts.bar_chart(
            "Points of value given up for each rule",
            [bar(f"Rule {p.index + 1}", (max(0, p.price or 0),)) for p in report.rule_prices],
            value_format=lambda v: f"{v:,.0f} points",
        )
    if report.place_values:
        out["values"] = charts.bar_chart(
            "Points of value one more place would add, for the 15 services it helps most",
            [bar(v.title, (v.value,)) for v in report.place_values[:15]],
            value_format=lambda v: f"{v:,.0f} points",
        )
    return out


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/instance.json")
def run_instance(round_id: int, run_id: int) -> Response:
    run = _run(_round(round_id), run_id)
    return _download(run.instance_json or "", f"round-{round_id}-run-{run_id}-instance.json")


@bp.get("/rounds/<int:round_id>/runs/<int:run_id>/result.json")
def run_result(round_id: int, run_id: int) -> Response:
    run = _run(_round(round_id), run_id)
    if run.result_json is None:
        abort(404)
    return _download(run.result_json, f"round-{round_id}-run-{run_id}-result.json")


def _download(text: str, filename: str, mimetype: str = "application/json") -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/rounds/<int:round_id>/compare")
def compare(round_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    s = get_session()
    done = [r for r in allocation_runs.list_runs(s, round_) if r.status == RunStatus.succeeded]
    a_id = request.args.get("a", type=int)
    b_id = request.args.get("b", type=int)
    comparison = None
    coverage_charts: dict[str, Any] = {}
    if a_id and b_id:
        a, b = _run(round_, a_id), _run(round_, b_id)
        if a.status != RunStatus.succeeded or b.status != RunStatus.succeeded:
            abort(404)
        comparison = results.compare_runs(s, round_, a, b)
        names = (f"Run {a.id}", f"Run {b.id}")
        for c in comparison.coverage:
            coverage_charts[c.attribute] = charts.bar_chart(
                f"Share placed by {c.label.lower()}: run {a.id} and run {b.id}",
                [charts.Bar(value, (x, y)) for value, x, y in c.groups],
                value_format=charts.percent,
                max_value=1.0,
                series=names,
            )
    return _page(
        "commissioner/compare.html",
        round=round_,
        runs=done,
        comparison=comparison,
        coverage_charts=coverage_charts,
        a_id=a_id,
        b_id=b_id,
    )


@bp.route("/rounds/<int:round_id>/runs/<int:run_id>/publish", methods=["GET", "POST"])
def publish(round_id: int, run_id: int) -> Any:
    round_ = _round(round_id)
    run = _run(round_, run_id)
    back = url_for(".run_page", round_id=round_id, run_id=run_id)
    errors: dict[str, str] = {}
    if request.method == "POST" and _confirmed():
        try:
            made = allocations.publish_run(
                get_session(),
                _actor(),
                round_,
                run,
                override_reason=request.form.get("override_reason"),
            )
        except InvalidInput as invalid:
            get_session().rollback()
            errors = invalid.errors
        except ServiceError as error:
            return _refuse(error, back)
        else:
            return _commit_and_go(
                f"Published. {count_words(len(made), 'person has')} been offered a place.",
                url_for(".round_page", round_id=round_id),
            )
    if not errors and not allocations.can_publish(round_, run):
        flash("This run cannot be published.", "error")
        return redirect(back)
    breaches = allocations.run_breaches(run)
    if "override_reason" in errors:
        errors["override_reason"] = (
            "Say why you publish an allocation that breaks the round's limits"
            if not request.form.get("override_reason", "").strip()
            else errors["override_reason"]
        )
    placements = len((allocation_runs.run_result(run) or {}).get("assignments") or [])
    return _page(
        "commissioner/confirm.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        question=f"Are you sure you want to publish run {run.id}?",
        words=[
            f"{count_words(placements, 'person')} will be offered a place at once, and told so. "
            "The other runs of this round can no longer be published."
        ],
        action=url_for(".publish", round_id=round_id, run_id=run_id),
        back=back,
        yes="Yes, publish it" if not breaches else "Yes, publish it anyway",
        no="No, go back to the run",
        danger=bool(breaches),
        breaches=breaches,
        values=request.form,
    )


# -- moving people off an offer ---------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/held")
def held_places(round_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    return _page(
        "commissioner/held.html",
        round=round_,
        held=place_moves.held_places(get_session(), round_),
    )


def _change_place(round_: Round, allocation_id: int, form: Any) -> object:
    """Move or release the place as the form's one question says (the service checks the
    rest). The service's ``to_offer_id`` is the form's ``choice``."""
    s = get_session()
    choice = form.get("choice", "")
    if choice == "release":
        return place_moves.release_place(
            s, _actor(), round_, allocation_id, reason=form.get("reason")
        )
    to_offer_id = parse_whole_number(choice)
    if to_offer_id is None or to_offer_id < 1:  # str.isdigit() would pass "²", which int() refuses
        raise InvalidInput({"choice": "Choose a service to move this place to, or take it away"})
    try:
        return place_moves.move_place(
            s,
            _actor(),
            round_,
            allocation_id,
            to_offer_id=to_offer_id,
            reason=form.get("reason"),
            consent=form.get("consent") == "yes",
        )
    except InvalidInput as invalid:
        errors = dict(invalid.errors)
        if "to_offer_id" in errors:
            errors["choice"] = errors.pop("to_offer_id")
        raise InvalidInput(errors) from invalid


@bp.route("/rounds/<int:round_id>/held/<int:allocation_id>", methods=["GET", "POST"])
def held_place(round_id: int, allocation_id: int) -> Any:
    """Move or release one person's place: the form, then "Are you sure?", then done.

    The first POST checks the answers by making the change and rolling it back, so the
    question is asked only of a change that would work; the second (``confirm=yes``) makes it.
    """
    round_ = _round(round_id)
    s = get_session()
    back = url_for(".held_places", round_id=round_id)
    try:
        allocation = place_moves.get_held_place(s, round_, allocation_id)
    except NotFound:
        abort(404)
    if allocation.status not in allocations.HELD:
        flash("This place is no longer held: it was turned down, given up or moved.", "error")
        return redirect(back)
    errors: dict[str, str] = {}
    confirming = False
    if request.method == "POST":
        try:
            _change_place(round_, allocation_id, request.form)
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        except ServiceError as error:
            return _refuse(error, back)
        else:
            if _confirmed():
                done = "taken away" if request.form.get("choice") == "release" else "moved"
                return _commit_and_go(f"{allocation.person.display_name}’s place is {done}.", back)
            s.rollback()
            confirming = True
        allocation = place_moves.get_held_place(s, round_, allocation_id)
    targets = place_moves.move_targets(s, round_, allocation)
    chosen = next((t for t in targets if str(t.offer_id) == request.form.get("choice")), None)
    return _page(
        "commissioner/held_place.html",
        400 if errors else 200,
        errors=errors,
        round=round_,
        allocation=allocation,
        targets=targets,
        chosen=chosen,
        confirming=confirming,
        values=request.form,
        back=back,
    )


# -- money ------------------------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/money")
def money(round_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    lines = allocations.round_statement(get_session(), round_)
    return _page(
        "commissioner/money.html",
        round=round_,
        lines=lines,
        by_person=allocations.totals_by(lines, "person"),
        by_provider=allocations.totals_by(lines, "provider"),
        total=sum(line.amount_pence for line in lines if not line.released),
    )


@bp.get("/rounds/<int:round_id>/money.csv")
def money_csv(round_id: int) -> Response:
    round_ = _round(round_id)
    text = allocations.statement_csv(allocations.round_statement(get_session(), round_))
    return _download(text, f"round-{round_id}-commitments.csv", "text/csv")


# -- the voice loop ---------------------------------------------------------------------------


@bp.get("/voice")
def voice_page() -> tuple[str, int]:
    s = get_session()
    actor = _actor()
    unmet = voice.unmet_aspirations(s, actor)
    return _page(
        "commissioner/voice.html",
        unmet=unmet[:30],
        unmet_chart=charts.bar_chart(
            "People whose wish is not met yet, by outcome and area",
            [charts.Bar(f"{u.label}, {u.area}", (u.unmet,)) for u in unmet[:12]],
        ),
        proposals=voice.proposals_by_support(s, actor),
        ratings=voice.offer_ratings(s, actor),
        status_words=voice.proposal_status_words,
    )


@bp.route("/proposals/<int:proposal_id>", methods=["GET", "POST"])
def proposal(proposal_id: int) -> Any:
    s = get_session()
    actor = _actor()
    try:
        found = voice.get_proposal(s, actor, proposal_id)
    except NotFound:
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        round_id = request.form.get("round_id", "")
        try:
            voice.respond_to_proposal(
                s,
                actor,
                proposal_id,
                status=request.form.get("status", ""),
                response=request.form.get("response", ""),
                round_id=parse_whole_number(round_id),
            )
        except InvalidInput as invalid:
            s.rollback()
            errors = invalid.errors
        else:
            return _commit_and_go("Your answer is saved. People who asked can see it.",
                                  url_for(".voice_page"))  # fmt: skip
    supporters = next(
        (p.supporters for p in voice.proposals_by_support(s, actor) if p.proposal.id == found.id),
        0,
    )
    council_rounds = [summary.round for summary in rounds.list_rounds(s, actor)]
    return _page(
        "commissioner/proposal.html",
        400 if errors else 200,
        errors=errors,
        proposal=found,
        supporters=supporters,
        rounds=council_rounds,
        statuses=[s_ for s_ in ProposalStatus if s_ != ProposalStatus.open],
        values=request.form if request.method == "POST" else None,
        status_words=voice.proposal_status_words,
    )


ROUND_STATUS_WORDS = {
    RoundStatus.draft: ("Draft", "grey"),
    RoundStatus.open: ("Open for choices", "green"),
    RoundStatus.closed: ("Closed for choices", "yellow"),
    RoundStatus.allocated: ("Allocation ready", "blue"),
    RoundStatus.published: ("Published", "purple"),
}
RUN_STATUS_WORDS = {
    RunStatus.queued: ("Waiting", "grey"),
    RunStatus.running: ("Running", "blue"),
    RunStatus.succeeded: ("Finished", "green"),
    RunStatus.failed: ("Failed", "red"),
}
#: A finished run that found no allocation is a failure to the reader, not "Finished".
NO_ALLOCATION_WORDS = ("No allocation", "red")


def run_words(run: SolverRun) -> tuple[str, str]:
    """The run's status tag: its words and colour."""
    if run.status == RunStatus.succeeded and run.status_of_result in rule_checks.NO_ALLOCATION:
        return NO_ALLOCATION_WORDS
    return RUN_STATUS_WORDS[run.status]


@bp.app_context_processor
def _words() -> dict[str, Any]:
    return {
        "round_status_words": ROUND_STATUS_WORDS,
        "run_status_words": RUN_STATUS_WORDS,
        "run_words": run_words,
    }


# The places cycle after publishing has its own module, on this blueprint.
from web.pages import commissioner_cycle  # noqa: E402, F401
