"""Crawl workers for the integration tests: real `lootwatch crawl-worker` processes on the test servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def write_sites(path: Path, sites: dict[str, dict[str, Any]]) -> Path:
    """A sites file (TOML) of ``{name: entry}``; JSON strings are valid TOML strings."""
    lines = []
    for name, entry in sites.items():
        lines.append(f"[sites.{name}]")
        selectors = entry.pop("selectors", {})
        for key, value in entry.items():
            lines.append(f"{key} = {json.dumps(value)}")
        if selectors:
            lines.append(f"[sites.{name}.selectors]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in selectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def worker_env(database_url: str, redis_url: str, data_dir: Path, sites_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LOOTWATCH_DATABASE_URL": database_url,
        "LOOTWATCH_REDIS_URL": redis_url,
        "LOOTWATCH_DATA_DIR": str(data_dir),
        "LOOTWATCH_SITES_FILE": str(sites_file),
    }


def start_crawl_worker(env: dict[str, str], name: str, *, burst: bool, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "lootwatch", "crawl-worker", "--name", name, "--timeout", "240"]
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [*args, "--burst"] if burst else args,
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
