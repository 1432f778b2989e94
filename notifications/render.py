"""Templates → text (DESIGN.md §5): `notifications/templates/<lang>/<key>.<channel>.j2`, StrictUndefined
(a missing field is an error, never a blank), HTML autoescaped; a branch's own folder overrides any file.

A template is either plain (the whole file is the text: SMS, WeChat, group bot) or made of blocks
`subject`, `text`, `html` (e-mail); each block is rendered on its own. The subject and text blocks come
from an environment without autoescape and the html block from one with it, so a hospital named
`<b>&</b>` is escaped in the HTML part and verbatim in every plain part, whatever the template's author
remembered to write.

Every template also sees the branch's globals in the message's language: `branch` (its name), `hotline`
and `signature` (the SMS signature, without brackets).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    nodes,
)
from jinja2 import UndefinedError as JinjaUndefinedError

from models.core.errors import ConfigurationError, ValidationError
from notifications.catalogue import CATALOGUE
from notifications.sms_length import sms_parts

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEMO_BRANCHES",
    "LANGUAGES",
    "TEXT_LIMITS",
    "Branch",
    "Rendered",
    "Renderer",
    "resolve_language",
]

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")
# The longest text a channel takes (catalogue.md: a WeChat text field, a group bot's markdown message);
# cut short, a message would lose its last line, which is where the hotline or the link sits.
TEXT_LIMITS = {"wechat": 200, "webhook": 2000}
SHANGHAI = ZoneInfo("Asia/Shanghai")  # times are stored in UTC and shown in Beijing time (STYLE.md)


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str = ""
    html: str = ""


@dataclass(frozen=True)
class Branch:
    """What every template may print about the sending branch, in one language."""

    branch: str  # the branch's name: 郑州市红十字会 / Zhengzhou Red Cross
    hotline: str
    signature: str  # the SMS signature without brackets: 郑州红十字会


# A demo branch for a Renderer built without settings: the number is a placeholder no phone can dial.
DEMO_BRANCHES: Mapping[str, Branch] = {
    "zh-CN": Branch(branch="郑州市红十字会", hotline="0371-00000000", signature="郑州红十字会"),
    "en": Branch(branch="Zhengzhou Red Cross", hotline="0371-00000000", signature="Zhengzhou Red Cross"),
}


def resolve_language(language: str) -> str:
    """The template language for a member's language tag: en, en-US → en; anything else → zh-CN."""
    tag = language.strip().replace("_", "-").lower()
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return DEFAULT_LANGUAGE


class _FormatError(TemplateError):
    """A date filter got something that is not an ISO date; says which kind, never the value."""


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _FormatError("a date field is not an ISO date (YYYY-MM-DD)") from None


def _as_local_time(value: Any) -> datetime:
    """An ISO datetime in Beijing time; a naive one is taken as UTC, as donorflow stores times."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise _FormatError("a time field is not an ISO datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI)


# Formatting only; the words around the dates live in the templates.
_ZH_WEEKDAYS = "一二三四五六日"
_EN_MONTHS = "January February March April May June July August September October November December".split()
_EN_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def zh_date(value: Any, weekday: bool = False) -> str:
    day = _as_date(value)
    text = f"{day.year}年{day.month}月{day.day}日"
    return f"{text}（星期{_ZH_WEEKDAYS[day.weekday()]}）" if weekday else text


def en_date(value: Any, weekday: bool = False, short: bool = False) -> str:
    day = _as_date(value)
    month = _EN_MONTHS[day.month - 1]
    text = f"{day.day} {month[:3] if short else month} {day.year}"
    return f"{_EN_WEEKDAYS[day.weekday()]} {text}" if weekday else text


def zh_datetime(value: Any) -> str:
    moment = _as_local_time(value)
    return f"{zh_date(moment)} {moment:%H:%M}"


def en_datetime(value: Any) -> str:
    moment = _as_local_time(value)
    return f"{en_date(moment)}, {moment:%H:%M}"


_FILTERS: dict[str, Callable[..., str]] = {
    "zh_date": zh_date,
    "en_date": en_date,
    "zh_datetime": zh_datetime,
    "en_datetime": en_datetime,
}


def _email_autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".email.j2")


def _environment(loader: BaseLoader, *, autoescape: bool) -> Environment:
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=_email_autoescape if autoescape else False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(_FILTERS)
    return env


def _blocks(template: Template, values: dict[str, Any], wanted: tuple[str, ...]) -> dict[str, str]:
    """The named blocks of `template`, each stripped; the top level runs first for the `{% set %}` the
    blocks read (a block rendered on its own does not see them)."""
    context = template.new_context(values)
    for _ in template.root_render_func(context):
        pass
    return {
        block: "".join(template.blocks[block](context)).strip()
        for block in wanted
        if block in template.blocks
    }


class Renderer:
    """Renders one message: `render(key, channel, language, context) -> Rendered`.

    `overrides`: a branch's folder with the same `<lang>/<key>.<channel>.j2` layout; a file there wins
    over the packaged one. `branches`: the globals per language (the demo branch where not given).
    `max_sms_parts`: an SMS render longer than this is refused (providers charge per part and
    some refuse long texts; the catalogue allows three).
    """

    def __init__(
        self,
        overrides: Path | None = None,
        *,
        branches: Mapping[str, Branch] | None = None,
        max_sms_parts: int = 3,
    ) -> None:
        if overrides is not None and not overrides.is_dir():
            raise ConfigurationError(f"the templates folder {overrides} does not exist or is not a folder")
        if max_sms_parts < 1:
            raise ConfigurationError("max_sms_parts must be at least 1")
        loaders: list[BaseLoader] = []
        if overrides is not None:
            loaders.append(FileSystemLoader(str(overrides)))
        loaders.append(PackageLoader("notifications", "templates"))
        self._loader = ChoiceLoader(loaders)
        self.overrides = overrides
        self.max_sms_parts = max_sms_parts
        self.branches = {**DEMO_BRANCHES, **(branches or {})}
        self.env = _environment(self._loader, autoescape=True)  # html blocks
        self._plain = _environment(self._loader, autoescape=False)  # whole plain templates, subject and text
        self._fields: dict[str, tuple[Template, frozenset[str]]] = {}

    def render(self, key: str, channel: str, language: str, context: Mapping[str, Any]) -> Rendered:
        lang = resolve_language(language)
        name = f"{lang}/{key}.{channel}.j2"
        try:
            plain = self._plain.get_template(name)
        except TemplateNotFound as exc:
            raise ValidationError(f"no template {name}") from exc
        except TemplateError as exc:  # a syntax error in a (branch's) template: its line, no data
            raise ValidationError(f"template {name} cannot be read: {exc}") from exc
        branch = self.branches.get(lang, DEMO_BRANCHES[lang])
        values = {
            **context,
            "branch": branch.branch,
            "hotline": branch.hotline,
            "signature": branch.signature,
        }
        self._require_fields(name, key, plain, values)
        try:
            rendered = self._render(name, plain, values)
        except JinjaUndefinedError as exc:  # "'x' is undefined": the variable's name, not a value
            raise ValidationError(f"template {name}: {exc.message}") from exc
        except _FormatError as exc:
            raise ValidationError(f"template {name}: {exc.message}") from exc
        except TemplateError as exc:
            raise ValidationError(f"template {name}: {type(exc).__name__}: {exc.message}") from exc
        except (TypeError, ValueError, LookupError, AttributeError, ArithmeticError) as exc:
            # A value of the wrong type for the template: the kind of error only, as a value may be personal.
            raise ValidationError(f"template {name}: {type(exc).__name__} while rendering") from exc
        if channel == "sms":
            parts = sms_parts(rendered.text)
            if parts > self.max_sms_parts:
                raise ValidationError(
                    f"template {name}: the SMS needs {parts} parts, "
                    f"more than the {self.max_sms_parts} allowed"
                )
        limit = TEXT_LIMITS.get(channel)
        if limit is not None and len(rendered.text) > limit:
            raise ValidationError(
                f"template {name}: {len(rendered.text)} characters, "
                f"more than the {limit} a {channel} text takes"
            )
        return rendered

    def _render(self, name: str, plain: Template, values: dict[str, Any]) -> Rendered:
        if "text" not in plain.blocks:
            return Rendered(text=plain.render(values).strip())
        parts = {
            **_blocks(plain, values, ("subject", "text")),
            **_blocks(self.env.get_template(name), values, ("html",)),
        }
        return Rendered(
            text=parts["text"], subject=" ".join(parts.get("subject", "").split()), html=parts.get("html", "")
        )

    def _require_fields(self, name: str, key: str, template: Template, values: Mapping[str, Any]) -> None:
        """Every field the catalogue names for `key` and every variable the template mentions, even in a
        branch not taken this time: a render that would fail for one member fails for all of them."""
        cached = self._fields.get(name)
        if cached is None or cached[0] is not template:  # a changed override file is a new Template
            source = self._loader.get_source(self._plain, name)[0]
            tree = self._plain.parse(source)
            # A block is compiled apart from the top level, so meta counts a top-level {% set %} that a
            # block reads as undeclared: whatever the template assigns anywhere is its own.
            assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
            mentioned = meta.find_undeclared_variables(tree) - assigned - set(self._plain.globals)
            cached = (template, frozenset(mentioned))
            self._fields[name] = cached
        spec = CATALOGUE.get(key)
        needed = set(cached[1]) | set(spec.fields if spec else ())
        missing = sorted(needed - set(values))
        if missing:
            raise ValidationError(f"template {name}: missing field(s) {', '.join(missing)}")
