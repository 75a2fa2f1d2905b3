"""The commissioner's view of the places cycle after publishing: the spend forecast, offers
near their deadline and expired, places offered again, given up or declined by providers,
and free places waiting for someone (:func:`web.services.places_cycle.round_cycle`).

The view belongs to the commissioner blueprint (:mod:`web.pages.commissioner`).
"""

from __future__ import annotations

from web.db import get_session
from web.pages.commissioner import _page, _round, bp
from web.services import places_cycle


@bp.get("/rounds/<int:round_id>/cycle")
def places_cycle_page(round_id: int) -> tuple[str, int]:
    round_ = _round(round_id)
    cycle = places_cycle.round_cycle(get_session(), round_)
    return _page(
        "commissioner/cycle.html",
        round=round_,
        cycle=cycle,
        deadline=places_cycle.describe_deadline,
    )
