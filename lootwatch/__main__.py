"""``python -m lootwatch``: the same as the ``lootwatch`` command."""

from __future__ import annotations

from lootwatch.cli import main

main()
