"""The Open Referral feed's targets (issue 14), as ratios: the demo council on PostgreSQL, the
app on gunicorn, 50 locust users reading the public feed.

    ./loadtests/run_load.sh                 # starts the test PostgreSQL (then Ctrl+C it)
    python loadtests/openreferral_load.py --postgres-url postgresql://tapestry@127.0.0.1:54329/postgres

Steps, all on 127.0.0.1: a new database filled with the Westmere demo (``--persons``), the app
under gunicorn, then locust, headless, with ``OpenReferralFeed`` of ``loadtests/locustfile.py``
(``--users`` for ``--seconds``). It prints, for each target, the measured time and its ratio to
the target (1.00 is the target; lower is better):

- ``/services/{id}`` p95 at 50 users, against 50 ms;
- every page of ``/services`` read one after another (the whole feed), p95, against 1 s.

Exit 0 when both ratios are at most 1, 1 when one is over. It is a benchmark, never a test:
pytest does not collect ``loadtests/``. The database is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_load  # noqa: E402  (the load test's database, server and locust helpers)

TARGETS_MS = {"feed one": 50.0, "feed whole": 1000.0}
LABELS = {"feed one": "one /services/{id}, p95", "feed whole": "every page of /services, p95"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", required=True, help="A server to make a database on.")
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="tapestry-feed-load-"))
    url = run_load.create_database(args.postgres_url)
    server = None
    try:
        # The keys the served app will find (settings, else its instance folder's files).
        from models.keys import AUDIT_KEY_ENV, TOTP_KEY_ENV, load_keys, use_keys

        audit, totp = os.environ.get(AUDIT_KEY_ENV), os.environ.get(TOTP_KEY_ENV)
        use_keys(load_keys(folder / "instance", audit=audit, totp=totp))
        run_load.fill_database(url, args.persons)
        port = run_load.free_port()
        env = {
            **os.environ,
            "TAPESTRY_DATABASE_URL": url,
            "TAPESTRY_INSTANCE_PATH": str(folder / "instance"),
            "TAPESTRY_SECRET_KEY": "feed load test",
            "TAPESTRY_AUTO_UPGRADE_DB": "false",
        }
        server = run_load.gunicorn(
            "web.wsgi:app", port, args.workers, 4, env, folder / "gunicorn.log"
        )
        host = f"http://127.0.0.1:{port}"
        run_load.wait_until_up(host + "/openreferral/westmere/", server)
        result = run_load.locust(
            host, ["OpenReferralFeed"], args.users, args.seconds, folder, "feed", env, 10
        )
    finally:
        if server is not None:
            run_load.stop(server)
        if not args.keep:
            run_load.drop_database(args.postgres_url, url)
    kinds = result["kinds"]
    ok = True
    print(f"{args.users} users for {args.seconds} s; {result['requests']:.0f} requests, "
          f"{result['failures']:.0f} failed")  # fmt: skip
    for kind, target in TARGETS_MS.items():
        measured = kinds.get(kind, {})
        p95 = float(measured.get("p95_ms", 0.0))
        ratio = p95 / target
        ok = ok and bool(measured.get("count")) and ratio <= 1 and not measured.get("failures")
        print(
            f"{LABELS[kind]}: {p95:.0f} ms over {measured.get('count', 0)} reads "
            f"({ratio:.2f} of the {target:.0f} ms target)"
        )
    (folder / "feed-result.json").write_text(json.dumps({"kinds": kinds, **result}, indent=2))
    print(f"details in {folder}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
