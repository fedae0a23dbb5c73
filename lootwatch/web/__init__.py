"""The review web app (FastAPI, server-rendered Jinja2 templates): ``lootwatch web``."""

from __future__ import annotations
