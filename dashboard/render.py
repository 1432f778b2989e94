"""Pages from Jinja2 templates, with the visitor's language, user and CSRF token in every context."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard.i18n import DEFAULT_LANG, Translator
from dashboard.security import CSRF_FIELD, config_of, csrf_token
from models.core import SHANGHAI

__all__ = ["page"]

_templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
_templates.env.filters["thousands"] = lambda value: f"{value:,}"
# A moment as the branch reads it: Beijing time, to the minute ("" for none).
_templates.env.filters["local"] = lambda value: (
    value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""
)


def _switch_url(request: Request, lang: str) -> str:
    """This page in the other language (its other query parameters kept)."""
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    other = "en" if lang == DEFAULT_LANG else DEFAULT_LANG
    return f"{request.url.path}?{urlencode([*query, ('lang', other)])}"


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang: str = getattr(request.state, "lang", DEFAULT_LANG)
    return _templates.TemplateResponse(
        request,
        template,
        {
            "t": Translator(lang),
            "lang": lang,
            "switch_url": _switch_url(request, lang),
            "user": getattr(request.state, "user", None),
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request),
            "prefect_ui_url": config_of(request).prefect_ui_url,
            **context,
        },
        status_code=status_code,
    )
