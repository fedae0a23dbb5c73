"""Rendering pages: one Jinja2 environment with autoescape, bidi controls neutralised in every
printed value, and http(s)-only links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lootwatch.web.deps import csrf_token, web_context
from lootwatch.web.text import http_url, neutralise

TEMPLATES = Path(__file__).resolve().parent / "templates"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.finalize = neutralise  # every {{ value }}, text and attributes alike
    templates.env.filters["http_url"] = http_url
    return templates


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context |= {"user": getattr(request.state, "user", None), "csrf": csrf_token(request)}
    context["flash"] = request.session.pop("flash", None)
    return web_context(request).templates.TemplateResponse(request, name, context, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status, message=message)
