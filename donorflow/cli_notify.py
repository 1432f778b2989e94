"""`donorflow notify …`: what a message says before anyone is sent it (DESIGN.md §5).

`preview` renders one catalogue message with this branch's settings and wording (DONORFLOW_TEMPLATES_DIR)
from the sample context, or from a real case's codes and stage (`--case`): never a name or a phone.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from donorflow import bootstrap
from donorflow.cli_notify_ops import register
from models.cases import CaseSummary, describe_case
from models.core import ConfigurationError, ValidationError
from notifications import CATALOGUE, LANGUAGES, MessageSpec, Rendered, sample_context, sms_length

__all__ = ["notify_app"]

notify_app = typer.Typer(
    help="通知 notifications: the messages members and coordinators get.", no_args_is_help=True
)

err = Console(stderr=True, highlight=False, markup=False, emoji=False)
_ENCODINGS = {"gsm7": "GSM-7", "ucs2": "UCS-2"}


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


def _spec(key: str, channel: str | None, lang: str) -> tuple[MessageSpec, str]:
    spec = CATALOGUE.get(key)
    if spec is None:
        _fail(f"未知的消息 unknown message key {key!r}; 可选 valid: {', '.join(CATALOGUE)}", 2)
    if lang not in LANGUAGES:
        _fail(f"未知的语言 unknown language {lang!r}; 可选 valid: {', '.join(LANGUAGES)}", 2)
    channel = channel or spec.channels[0]
    if channel not in spec.channels:
        _fail(
            f"{key} 没有此渠道 has no channel {channel!r}; 可选 valid: {', '.join(spec.channels)}",
            2,
        )
    return spec, channel


def _case_fields(summary: CaseSummary) -> dict[str, object]:
    """What a case tells a message: codes, stage and id (CaseSummary never holds a name or a phone)."""
    # CaseSummary.patient reads "<patient code> at <centre>" ("?" when the search is gone).
    patient_code = summary.patient.partition(" at ")[0]
    return {
        "code": summary.member_code,
        "member_code": summary.member_code,
        "patient_code": patient_code,
        "stage": summary.stage,
        "case_id": summary.case_id,
    }


def _context(spec: MessageSpec, case_id: str | None) -> dict[str, object]:
    context = sample_context(spec.key)
    if case_id is None:
        return context
    from donorflow.cli import _session  # at call time: cli.py imports this module to register it

    with _session() as session:
        summary = describe_case(session=session, case_id=case_id)
    context.update((k, v) for k, v in _case_fields(summary).items() if k in spec.fields)
    return context


@notify_app.command("preview")
def preview(
    key: Annotated[str, typer.Argument(help="Message key, e.g. exam_booking (a wrong one lists them all).")],
    lang: Annotated[str, typer.Option("--lang", help="zh-CN or en.")] = "zh-CN",
    channel: Annotated[
        str | None,
        typer.Option(
            help="sms, email or wechat (members); email or webhook (coordinators). Default: the first."
        ),
    ] = None,
    case_id: Annotated[
        str | None, typer.Option("--case", help="Take the member and patient codes and stage from this case.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Show a message as it would be sent: subject, text and HTML (and the SMS part count)."""
    spec, channel = _spec(key, channel, lang)
    context = _context(spec, case_id)
    try:
        rendered = bootstrap.renderer().render(key, channel, lang, context)
    except ValidationError as exc:
        _fail(str(exc), 2)
    except ConfigurationError as exc:
        _fail(str(exc), 1)
    if json_:
        typer.echo(json.dumps(_as_json(key, channel, lang, rendered), ensure_ascii=False, indent=2))
        return
    _print(key, channel, lang, rendered)


def _as_json(key: str, channel: str, lang: str, rendered: Rendered) -> dict[str, object]:
    payload: dict[str, object] = {
        "key": key,
        "language": lang,
        "channel": channel,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }
    if channel == "sms":
        length = sms_length(rendered.text)
        payload["sms"] = {"parts": length.parts, "encoding": length.encoding, "units": length.units}
    return payload


def _print(key: str, channel: str, lang: str, rendered: Rendered) -> None:
    typer.echo(f"# {lang}/{key}.{channel}")
    if rendered.subject:
        typer.echo(f"主题 Subject: {rendered.subject}")
    typer.echo("")
    typer.echo(rendered.text)
    if rendered.html:
        typer.echo("\n# HTML")
        typer.echo(rendered.html)
    if channel == "sms":
        length = sms_length(rendered.text)
        unit = "septets" if length.encoding == "gsm7" else "characters"
        typer.echo(
            f"\n短信条数 SMS parts: {length.parts} ({_ENCODINGS[length.encoding]}, {length.units} {unit})"
        )


register(notify_app)  # dispatch, status, opt-out (donorflow/cli_notify_ops.py)
