"""The top-level package names are ours alone, and imports point one way."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest

OURS = ("crawlers", "matcher", "models", "workers", "alerts", "lootwatch")
ROOT = Path(__file__).resolve().parents[3]


def _top_level_names(dist: md.Distribution) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if parts and not parts[0].endswith((".dist-info", ".egg-info", ".data")) and parts[0] != "..":
            names.add(parts[0].removesuffix(".py"))
    return names


def test_no_other_distribution_provides_our_top_level_names() -> None:
    clashes = []
    for dist in md.distributions():
        if (dist.metadata["Name"] or "").lower() == "lootwatch":
            continue
        for name in _top_level_names(dist) & set(OURS):
            clashes.append(f"{dist.metadata['Name']} provides {name}")
    assert clashes == []


@pytest.mark.parametrize("name", OURS)
def test_packages_import_from_this_checkout(name: str) -> None:
    module = __import__(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name


def _imports_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(m for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_crawlers_never_import_torch() -> None:
    loaded = _imports_after("import crawlers, crawlers.store, crawlers.extract")
    assert "torch" not in loaded
    assert not {"workers", "models", "matcher"} & loaded


def test_models_import_nothing_of_ours() -> None:
    loaded = _imports_after("import models, models.descriptor")
    assert not {"lootwatch", "crawlers", "matcher", "workers", "alerts"} & loaded


def test_cli_help_does_not_load_torch() -> None:
    loaded = _imports_after("import lootwatch.cli")
    assert "torch" not in loaded
