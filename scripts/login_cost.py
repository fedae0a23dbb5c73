"""What a login attempt costs the server: a wrong password (an argon2 check) against an attempt the
throttle refuses (no check at all).

    .venv/bin/python scripts/login_cost.py

Runs the review app in-process (Starlette's test client) on an embedded PostgreSQL under a
temporary folder; prints the median answer time of 5 wrong-password attempts and of the 20
throttled attempts that follow them.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from lootwatch.core.db import Database
from lootwatch.core.services import services
from lootwatch.core.settings import Settings
from lootwatch.web.accounts import add_user
from lootwatch.web.app import create_app
from lootwatch.web.throttle import LoginThrottle


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lootwatch-login-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        with services(settings) as urls:
            db = Database(urls.database_url)
            add_user(db, "ana", "correct horse battery")
            throttle = LoginThrottle(account_limit=5, client_limit=1000)
            client = TestClient(create_app(settings, db, key="measure", throttle=throttle))

            def attempt() -> tuple[int, float]:
                page = client.get("/login").text
                token = re.search(r'name="csrf" value="([^"]+)"', page)
                assert token is not None
                started = time.perf_counter()
                form = {"username": "ana", "password": "wrong password!!", "csrf": token.group(1)}
                status = client.post("/login", data=form).status_code
                return status, time.perf_counter() - started

            for label, n in (("wrong password (argon2 check)", 5), ("throttled (no check)", 20)):
                runs = [attempt() for _ in range(n)]
                median_ms = statistics.median(t for _, t in runs) * 1000
                print(f"{label}: HTTP {sorted({s for s, _ in runs})}, median {median_ms:.1f} ms over {n}")


if __name__ == "__main__":
    main()
