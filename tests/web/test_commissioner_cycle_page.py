"""The commissioner's answers and re-offers page: spend forecast, deadlines, expired offers,
re-offers, places given up and placements providers could not take."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.base import utcnow
from tests.services.commissioning_world import make_round, solved_run
from tests.services.test_allocations import allocation_of
from tests.web.test_commissioner_pages import signed_in
from web.services import allocations, places_cycle


def test_forecast_deadlines_and_re_offers(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session, pot_pence=100_000)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    cal = world.people["Cal"]
    allocations.accept_place(db_session, cal.user, cal, allocation_of(world, "Cal").id)
    # Dee's offer is a day from its deadline; Ada's ran out, so the cafe went to Ben.
    allocation_of(world, "Dee").answer_by = utcnow() + timedelta(days=1)
    allocation_of(world, "Ada").answer_by = utcnow() - timedelta(minutes=1)
    db_session.flush()
    places_cycle.expire_due_offers(db_session)
    signed_in(client, world, login, db_session)
    page = html_lib.unescape(
        client.get(f"/commissioner/rounds/{world.round.id}/cycle").get_data(as_text=True)
    )
    offered = places_cycle.round_cycle(db_session, world.round).forecast.offered_pence
    assert re.search(r"Accepted \(money set aside\)</dt><dd[^>]*>£100<", page)
    assert (
        f'Offered, not answered yet</dt><dd class="govuk-summary-list__value">£{offered // 100}<'
        in page
    )
    assert f"£{(100_000 - 10_000 - offered) // 100} of £1,000" in page
    near = page.split('id="near-deadline"')[1].split("</table>")[0]
    assert "Dee" in near and "Ada" not in near
    assert "Ada" in page.split('id="expired"')[1].split("</table>")[0]
    assert "Ben" in page.split('id="reoffered"')[1].split("</table>")[0]
    assert "Answers and re-offers" in page
