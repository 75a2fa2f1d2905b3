"""Open Referral import benchmark: a 5,000-service feed imported twice (target: under 60 s, and
the second import changes nothing).

Not a test (pytest never collects ``loadtests/``). It writes a synthetic feed file
(``--services`` services in organisations of ``--per-organisation``, each with a cost, ages, two
weekly schedules, a service area, a location with coordinates and access, and taxonomy terms),
makes a new migrated database (SQLite in a temporary folder, or ``--url``) with one council,
then times ``tapestry openreferral import FILE --council bench`` twice, each in a fresh process
(interpreter start, imports, reading and importing, the commit). It prints each time and its
ratio to the target, and fails (exit 1) when the second import did not report everything
unchanged, or when the first did not create everything.

Usage::

    python loadtests/openreferral_bench.py                  # 5,000 services, SQLite
    python loadtests/openreferral_bench.py --services 500   # a quick look
    python loadtests/openreferral_bench.py --url postgresql+psycopg://.../bench  # an empty DB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 60.0
AREAS = ("north", "south", "east", "west")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CATEGORIES = ("employment", "training", "day_opportunity", "home_support", "social", "creative")


def _id(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bench:" + ":".join(map(str, parts))))


def feed(services: int, per_organisation: int) -> list[dict[str, Any]]:
    """``services`` full service documents of the profile's shape."""
    documents = []
    for n in range(services):
        org = n // per_organisation
        documents.append(
            {
                "id": _id("service", n),
                "name": f"Service {n} of organisation {org}",
                "description": "A weekly group with a friendly team, for anyone who wants it.",
                "status": "active",
                "minimum_age": 18 + n % 30,
                "maximum_age": 64,
                "organization": {
                    "id": _id("organization", org),
                    "name": f"Organisation {org}",
                    "description": "A community interest company.",
                    "email": f"hello{org}@example.org",
                    "website": f"https://org{org}.example.org/",
                },
                "cost_options": [{"id": _id("cost", n), "amount": (n % 200) + 0.5}],
                "service_areas": [{"id": _id("area", n), "name": AREAS[n % len(AREAS)]}],
                "schedules": [
                    {
                        "id": _id("schedule", n, day),
                        "freq": "WEEKLY",
                        "byday": day,
                        "opens_at": "10:00",
                        "closes_at": "15:00",
                    }
                    for day in (DAYS[n % 7], DAYS[(n + 3) % 7])
                ],
                "service_at_locations": [
                    {
                        "id": _id("sal", n),
                        "location": {
                            "id": _id("location", n),
                            "location_type": "physical",
                            "name": f"Hall {n % 97}",
                            "latitude": 50.0 + (n % 100) / 100,
                            "longitude": -4.0 - (n % 50) / 100,
                            "accessibility": [
                                {"id": _id("access", n), "description": "Step-free entrance."}
                            ],
                        },
                    }
                ],
                "attributes": [
                    {
                        "id": _id("attribute", n),
                        "taxonomy_term": {
                            "id": _id("term", CATEGORIES[n % len(CATEGORIES)]),
                            "name": CATEGORIES[n % len(CATEGORIES)],
                            "code": CATEGORIES[n % len(CATEGORIES)],
                        },
                    }
                ],
            }
        )
    return documents


def _database(folder: Path, url: str | None) -> str:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy.orm import Session

    from models import Council, make_engine, upgrade

    target = url or f"sqlite:///{folder / 'bench.sqlite'}"
    upgrade(target)
    engine = make_engine(target)
    try:
        with Session(engine) as session:
            session.add(Council(name="Bench", slug="bench", areas=list(AREAS)))
            session.commit()
    finally:
        engine.dispose()
    return target


def _import(path: Path, url: str, folder: Path) -> tuple[float, str]:
    env = {**os.environ, "TAPESTRY_INSTANCE_PATH": str(folder / "instance")}
    cli = "import sys; from web.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "openreferral", "import", str(path)]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--council", "bench", "--url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the import failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout.splitlines()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--per-organisation", type=int, default=10)
    parser.add_argument("--url", default=None, help="An empty database (default: new SQLite).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "feed.json"
        path.write_text(json.dumps(feed(args.services, args.per_organisation)), "utf-8")
        url = _database(folder, args.url)
        organisations = -(-args.services // args.per_organisation)
        first_s, first = _import(path, url, folder)
        second_s, second = _import(path, url, folder)
    print(f"{args.services} services in {organisations} organisations")
    print(
        f"first import:  {first_s:6.1f} s ({first_s / TARGET_S:.2f} of the {TARGET_S:.0f} s target)"
    )
    print(f"  {first}")
    print(f"second import: {second_s:6.1f} s ({second_s / TARGET_S:.2f} of the target)")
    print(f"  {second}")
    created = f"services: {args.services} created, 0 updated, 0 unchanged, 0 refused"
    unchanged = f"services: 0 created, 0 updated, {args.services} unchanged, 0 refused"
    ok = created in first and unchanged in second and "0 created, 0 updated" in second
    if not ok:
        print("the imports did not create everything, then change nothing", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
