"""One import name in site-packages, the component folders installed under it, and the layers kept."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("crawlers", "matcher", "models", "workers", "alerts")


def _top_level_names(dist: md.Distribution) -> set[str]:
    names = set()
    for f in dist.files or []:
        parts = f.parts
        if parts and not parts[0].endswith((".dist-info", ".egg-info", ".data", ".pth")) and parts[0] != "..":
            names.add(parts[0].removesuffix(".py"))
    return names


def test_the_distribution_installs_only_lootwatch() -> None:
    # the installed record (a checkout's build may leave a lootwatch.egg-info beside the sources)
    installed = [
        d for d in md.distributions() if (d.metadata["Name"] or "").lower() == "lootwatch" and d.read_text("RECORD")
    ]
    assert installed
    for dist in installed:
        names = {n for n in _top_level_names(dist) if not n.startswith(("__editable__", "__pycache__"))}
        assert names <= {"lootwatch"}
    # from outside the checkout (whose root a `python -m pytest` puts on sys.path), no generic name resolves
    for generic in COMPONENTS:
        out = subprocess.run(
            [sys.executable, "-c", f"import {generic}"], capture_output=True, text=True, cwd=tempfile.gettempdir()
        )
        assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr, generic


@pytest.mark.parametrize("name", COMPONENTS)
def test_component_folders_install_as_lootwatch_subpackages(name: str) -> None:
    module = importlib.import_module(f"lootwatch.{name}")
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name


def test_import_contracts_hold() -> None:
    """The layers and forbidden imports declared in pyproject.toml ([tool.importlinter])."""
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "lint-imports.sh"), str(bin_dir)], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_crawl_modules_load_without_torch() -> None:
    code = (
        "import sys, lootwatch.crawlers.run, lootwatch.crawlers.store, lootwatch.crawlers.extract;"
        "print(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(out.stdout.split())
    assert "torch" not in loaded
    assert not {"lootwatch.workers", "lootwatch.models", "lootwatch.matcher"} & loaded
