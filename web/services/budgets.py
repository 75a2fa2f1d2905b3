"""Personal budgets for a round: set one at a time, or import many from a CSV file.

A CSV import is all or nothing. :func:`preview_budget_csv` reads the file and says, row by
row, what would change and what is wrong; :func:`import_budget_csv` reads it again and imports
only when no row is wrong, so nothing is half done.

The file has a header row with the columns ``email`` and ``amount`` (in pounds, such as
``320`` or ``£95.50``); other columns are ignored. Each email must be the sign-in of a person in
the council, at most once in the file. A budget can never be set below the money already
committed from it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.accounts import Role, User
from models.audit import append_event
from models.people import PersonProfile
from models.rounds import Budget, Round, RoundStatus
from web.services.catalogue import parse_pounds
from web.services.errors import Conflict, InvalidInput, NotFound
from web.services.matching import format_money

MAX_CSV_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """One line of a CSV file, as the preview shows it. ``line`` counts the header as 1."""

    line: int
    email: str
    amount_text: str
    person: PersonProfile | None
    amount_pence: int | None
    current_pence: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class BudgetPreview:
    rows: list[BudgetRow]
    file_error: str | None = None

    @property
    def errors(self) -> list[BudgetRow]:
        return [r for r in self.rows if r.error]

    @property
    def ok(self) -> bool:
        return self.file_error is None and bool(self.rows) and not self.errors

    @property
    def total_pence(self) -> int:
        return sum(r.amount_pence or 0 for r in self.rows)


def _editable(round_: Round) -> None:
    if round_.status == RoundStatus.published:
        raise Conflict("This round is published, so budgets cannot change.")


def list_budgets(session: Session, round_: Round) -> list[Budget]:
    """The round's budgets with their people, by name."""
    return list(
        session.scalars(
            select(Budget)
            .join(PersonProfile, PersonProfile.id == Budget.person_id)
            .where(Budget.round_id == round_.id)
            .options(selectinload(Budget.person).selectinload(PersonProfile.user))
            .order_by(PersonProfile.display_name, Budget.id)
        )
    )


def people_in_council(session: Session, round_: Round) -> list[PersonProfile]:
    """People of the round's council (in its areas, when it has some), by name."""
    query = (
        select(PersonProfile)
        .join(User, User.id == PersonProfile.user_id)
        .where(User.council_id == round_.council_id, User.role == Role.person)
        .options(selectinload(PersonProfile.user))
        .order_by(PersonProfile.display_name, PersonProfile.id)
    )
    if round_.areas:
        query = query.where(PersonProfile.area.in_(round_.areas))
    return list(session.scalars(query))


def _person_in_council(session: Session, round_: Round, person_id: int) -> PersonProfile:
    person = session.get(PersonProfile, person_id)
    if person is None or person.user.council_id != round_.council_id:
        raise NotFound("There is no such person in your council.")
    return person


def set_budget(
    session: Session, actor: User, round_: Round, person_id: int, amount_pence: int
) -> Budget:
    """Create or change one person's budget for the round."""
    _editable(round_)
    person = _person_in_council(session, round_, person_id)
    if amount_pence < 0:
        raise InvalidInput({"amount": "The budget cannot be less than £0"})
    budget = session.scalars(
        select(Budget).where(Budget.round_id == round_.id, Budget.person_id == person.id)
    ).first()
    if budget is not None and amount_pence < budget.committed_pence:
        raise InvalidInput(
            {
                "amount": f"{format_money(budget.committed_pence)} is already spent from this "
                "budget, so it cannot be less than that"
            }
        )
    if budget is None:
        budget = Budget(
            round_id=round_.id,
            person_id=person.id,
            amount_pence=amount_pence,
            committed_pence=0,
            set_by_user_id=actor.id,
        )
        session.add(budget)
    else:
        budget.amount_pence = amount_pence
        budget.set_by_user_id = actor.id
    session.flush()
    append_event(
        session,
        "budget.set",
        actor_user_id=actor.id,
        object_type="budget",
        object_id=budget.id,
        details={"round_id": round_.id, "person_id": person.id, "amount_pence": amount_pence},
    )
    return budget


def preview_budget_csv(session: Session, round_: Round, text: str) -> BudgetPreview:
    """Read a budgets CSV and say what each row would do, or what is wrong with it."""
    text = text.lstrip("\ufeff")  # spreadsheets often start the file with a byte-order mark
    if not text.strip():
        return BudgetPreview([], "The file is empty")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error:
        return BudgetPreview([], "The file is not a CSV file")
    if "email" not in header or "amount" not in header:
        return BudgetPreview([], "The first row must name the columns email and amount")
    email_at, amount_at = header.index("email"), header.index("amount")
    raw: list[tuple[int, str, str, bool]] = []
    try:
        for number, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue
            if len(raw) >= MAX_CSV_ROWS:
                return BudgetPreview([], f"The file has more than {MAX_CSV_ROWS:,} rows")
            email = fields[email_at].strip().lower() if email_at < len(fields) else ""
            amount = fields[amount_at].strip() if amount_at < len(fields) else ""
            # More cells than the header usually means "1,000" without quotes: refuse it
            # rather than read £1.
            raw.append((number, email, amount, len(fields) > len(header)))
    except csv.Error as error:
        return BudgetPreview([], f"The file is not a CSV file ({error})")
    if not raw:
        return BudgetPreview([], "The file has no rows after the header")

    emails = {email for _, email, _, _ in raw if email}
    people: dict[str, tuple[User, PersonProfile | None]] = {}
    for user in session.scalars(
        select(User)
        .where(User.email.in_(emails), User.council_id == round_.council_id)
        .options(selectinload(User.person_profile))
    ):
        people[user.email] = (user, user.person_profile)
    budgets = {
        b.person_id: b for b in session.scalars(select(Budget).where(Budget.round_id == round_.id))
    }
    seen: dict[str, int] = {}
    rows: list[BudgetRow] = []
    for number, email, amount_text, too_many in raw:
        error: str | None = None
        person: PersonProfile | None = None
        current: int | None = None
        amount = parse_pounds(amount_text) if amount_text else None
        if not email:
            error = "Enter the person's email address"
        elif email in seen:
            error = f"This email is also on line {seen[email]}"
        elif email not in people:
            error = "No one in your council signs in with this email"
        elif people[email][0].role != Role.person or people[email][1] is None:
            error = "This account is not a person who can have a budget"
        if email and email not in seen:
            seen[email] = number
        if email in people:
            person = people[email][1]
        if person is not None:
            if round_.areas and person.area not in round_.areas:
                error = error or "This person lives outside the round's areas"
            budget = budgets.get(person.id)
            current = budget.amount_pence if budget else None
            if budget is not None and amount is not None and amount < budget.committed_pence:
                error = error or (
                    f"{format_money(budget.committed_pence)} is already spent from this budget"
                )
        if error is None and too_many:
            error = "This line has more cells than the first row. Put amounts like "
            error += '"1,000" in quotes, or write 1000'
        if error is None and amount is None:
            error = (
                "Enter the amount in pounds, like 320 or 95.50"
                if amount_text
                else "Enter the amount"
            )
        rows.append(BudgetRow(number, email, amount_text, person, amount, current, error))
    return BudgetPreview(rows)


def import_budget_csv(session: Session, actor: User, round_: Round, text: str) -> int:
    """Set every budget in the file, or none: raises :class:`InvalidInput` when any row is
    wrong. Returns how many budgets were set."""
    _editable(round_)
    preview = preview_budget_csv(session, round_, text)
    if not preview.ok:
        problems = {"file": preview.file_error} if preview.file_error else {}
        for row in preview.errors:
            problems[f"line-{row.line}"] = f"Line {row.line}: {row.error}"
        raise InvalidInput(problems or {"file": "The file has no rows"})
    existing = {
        b.person_id: b for b in session.scalars(select(Budget).where(Budget.round_id == round_.id))
    }
    for row in preview.rows:
        assert row.person is not None and row.amount_pence is not None
        budget = existing.get(row.person.id)
        if budget is None:
            session.add(
                Budget(
                    round_id=round_.id,
                    person_id=row.person.id,
                    amount_pence=row.amount_pence,
                    committed_pence=0,
                    set_by_user_id=actor.id,
                )
            )
        else:
            budget.amount_pence = row.amount_pence
            budget.set_by_user_id = actor.id
    session.flush()
    append_event(
        session,
        "budget.import",
        actor_user_id=actor.id,
        object_type="round",
        object_id=round_.id,
        details={"rows": len(preview.rows), "total_pence": preview.total_pence},
    )
    return len(preview.rows)
