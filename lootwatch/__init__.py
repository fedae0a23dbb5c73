"""lootwatch: watches auction houses for protected cultural-heritage objects.

This package holds what belongs to no single component: the command line, settings,
database access and migrations, embedded services and the demo.
"""

from __future__ import annotations

__version__ = "0.1.0"
