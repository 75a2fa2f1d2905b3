"""``/market``: each council's live market position statement, for anyone to read.

The figures come from :mod:`web.services.market` (published rounds only, groups under 10
hidden); each table is drawn as a chart beside the same numbers, and can be downloaded as
CSV. The same statement is JSON at ``/api/v1/market/<council>``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template

from web import charts
from web.caching import cache_publicly
from web.db import get_session
from web.services import market
from web.services.errors import NotFound

bp = Blueprint("market", __name__, url_prefix="/market")
#: The most bars a chart shows; the table beside it has every row.
CHART_BARS = 12


@bp.get("")
def index() -> str:
    cache_publicly(page=True)
    return render_template(
        "public/market_index.html", councils=market.councils_with_statements(get_session())
    )


@bp.get("/<council_slug>")
def statement(council_slug: str) -> str:
    view = _statement(council_slug)
    cache_publicly(page=True)
    return render_template(
        "public/market.html",
        view=view,
        charts=_charts(view),
        hidden_words=market.HIDDEN_WORDS,
        pounds=charts.pounds,
    )


@bp.get("/<council_slug>/<any(demand, waiting, unmet, prices):table>.csv")
def table_csv(council_slug: str, table: str) -> Response:
    view = _statement(council_slug)
    cache_publicly()
    response = Response(view.tables[table].csv(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{view.council.slug}-market-{table}.csv"'
    )
    return response


def _statement(council_slug: str) -> market.MarketStatement:
    try:
        return market.market_statement(get_session(), council_slug)
    except NotFound:
        abort(404)


def _value(row: dict[str, Any], name: str) -> float | None:
    value = row[name]
    return None if value is None else float(value)


def _charts(view: market.MarketStatement) -> dict[str, Any]:
    bar, out = charts.Bar, {}
    hidden = market.HIDDEN_WORDS
    demand = view.tables["demand"].rows
    totals = [r for r in demand if r["area"] == market.ALL]
    out["rounds"] = charts.bar_chart(
        "People who chose, places and people left without a place, in each round",
        [
            bar(
                r["round"],
                tuple(_value(r, n) for n in ("people_who_chose", "places", "left_without_a_place")),
            )
            for r in reversed(totals)
        ],
        series=("People who chose", "Places", "Left without a place"),
        missing=hidden,
        chart_id="chart-rounds",
    )
    latest = view.latest_round
    if latest is not None:
        groups = [r for r in demand if r["round_id"] == latest.id and r["area"] != market.ALL]
        groups.sort(key=lambda r: -(r["people_who_chose"] or 0))
        out["demand"] = charts.bar_chart(
            f"People who chose and places in {latest.name}, by kind of service and area",
            [
                bar(
                    f"{r['category_label']}, {r['area']}",
                    (_value(r, "people_who_chose"), _value(r, "places")),
                )
                for r in groups[:CHART_BARS]
            ],
            series=("People who chose", "Places"),
            missing=hidden,
            chart_id="chart-demand",
        )
        waiting = [r for r in view.tables["waiting"].rows if r["round_id"] == latest.id]
        waiting.sort(key=lambda r: (-(r["people_waiting"] or 0), -(r["free_places"] or 0)))
        out["waiting"] = charts.bar_chart(
            f"People waiting and free places in {latest.name}",
            [
                bar(
                    f"{r['category_label']}, {r['area']}",
                    (_value(r, "people_waiting"), _value(r, "free_places")),
                )
                for r in waiting[:CHART_BARS]
            ],
            series=("People waiting", "Free places"),
            missing=hidden,
            chart_id="chart-waiting",
        )
    unmet = [r for r in view.tables["unmet"].rows if r["area"] == market.ALL]
    unmet.sort(key=lambda r: -(r["not_met"] or 0))
    out["unmet"] = charts.bar_chart(
        "People who want each outcome, and how many of them have a place that gives it",
        [
            bar(r["outcome_label"], (_value(r, "people_who_want_it"), _value(r, "have_a_place")))
            for r in unmet[:CHART_BARS]
        ],
        series=("Want it", "Have a place that gives it"),
        missing=hidden,
        chart_id="chart-unmet",
    )
    prices = sorted(view.tables["prices"].rows, key=lambda r: -r["average_price_pence"])
    out["prices"] = charts.bar_chart(
        "Average price per place, by kind of service and area",
        [
            bar(f"{r['category_label']}, {r['area']}", (float(r["average_price_pence"]),))
            for r in prices[:CHART_BARS]
        ],
        value_format=charts.pounds,
        chart_id="chart-prices",
    )
    return out
