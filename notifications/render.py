"""Templates → text (DESIGN.md §5): `notifications/templates/<lang>/<key>.<channel>.j2`, StrictUndefined
(a missing field is an error, never a blank), HTML autoescaped; a branch's own folder overrides any file.

A template is either plain (the whole file is the text: SMS) or made of blocks `subject`, `text`,
`html` (e-mail); each block is rendered on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
)
from jinja2 import UndefinedError as JinjaUndefinedError

from models.core.errors import ValidationError

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Rendered", "Renderer"]

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str = ""
    html: str = ""


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".email.j2")


class Renderer:
    def __init__(self, overrides: Path | None = None) -> None:
        loaders: list[Any] = []
        if overrides is not None:
            loaders.append(FileSystemLoader(str(overrides)))
        loaders.append(PackageLoader("notifications", "templates"))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def render(self, key: str, channel: str, language: str, context: Mapping[str, Any]) -> Rendered:
        lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
        name = f"{lang}/{key}.{channel}.j2"
        try:
            template = self.env.get_template(name)
        except TemplateNotFound as exc:
            raise ValidationError(f"no template {name}") from exc
        try:
            if "text" in template.blocks:
                ctx = template.new_context(dict(context))
                parts = {
                    block: "".join(template.blocks[block](ctx)).strip() if block in template.blocks else ""
                    for block in ("subject", "text", "html")
                }
                return Rendered(text=parts["text"], subject=parts["subject"], html=parts["html"])
            return Rendered(text=template.render(dict(context)).strip())
        except JinjaUndefinedError as exc:
            raise ValidationError(f"template {name}: {exc.message}") from exc
