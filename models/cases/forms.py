"""What a coordinator answers at each stage, as plain pydantic models (the flows show them as UI forms).

Field types follow what Prefect's form renderer shows well (shared/PREFECT.md): bool → switch, Literal →
dropdown, date → picker, nested model → group; no Optional, no dict. Pydantic checks the shape; the rules
that compare answers with the case (dates in order, results consistent) live in models/cases/rules.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, Field

import hla
from models.core import local_date, mask_text
from models.registry import HLA_COLUMNS, column_locus, column_title

__all__ = [
    "ContactAnswer",
    "DonationBooked",
    "DonationCompleted",
    "ExamBooked",
    "ExamPanel",
    "ExamResult",
    "HighResResult",
    "SampleBooked",
    "SampleSent",
    "StageAnswer",
    "form_defaults",
    "masked_answer",
    "today",
]


def today(now: datetime | None = None) -> date:
    """Today in the branch's timezone (Asia/Shanghai), whatever the server's zone: the default of a
    date field in a form. 17:00 UTC on 14 June is already 15 June in Shanghai."""
    return local_date(now or datetime.now(UTC))


def _in_90_days(now: datetime | None = None) -> date:
    return today(now) + timedelta(days=90)


_DAY_DEFAULTS: dict[Callable[..., Any], Callable[[datetime | None], date]] = {
    today: today,
    _in_90_days: _in_90_days,
}


# Required dates whose likely answer is the day the form is filled in (a sample taken, a result received):
# the picker shows that day, and the field stays required. Bookings (exam, G-CSF, collection) are for a
# day ahead and start empty.
_TODAY_LIKELY = frozenset({"sample_date", "result_date"})


def form_defaults(form: type[BaseModel], now: datetime | None = None) -> dict[str, date]:
    """The dated defaults of a form as of `now`, to show in its date pickers.

    A `default_factory` is not in the JSON schema, so the UI would show an empty picker; the flow puts
    these values into the form it shows instead, computed on the branch's (Shanghai) day.
    """
    defaults: dict[str, date] = {}
    for name, field in form.model_fields.items():
        if field.default_factory in _DAY_DEFAULTS:
            defaults[name] = _DAY_DEFAULTS[field.default_factory](now)
        elif name in _TODAY_LIKELY and field.annotation is date:
            defaults[name] = today(now)
    return defaults


A = TypeVar("A", bound=BaseModel)


def masked_answer(answer: A) -> A:
    """The answer with ID and phone numbers masked in every free-text field (notes, reasons, names):
    what a coordinator types is kept, in Prefect and in the case record, without them (DESIGN.md §8)."""
    changed = {
        name: mask_text(value)
        for name, value in answer
        if isinstance(value, str) and mask_text(value) != value
    }
    return answer.model_copy(update=changed) if changed else answer


def _yes_no(value: Any) -> Any:
    """Answers stored before these were choices were booleans: a suspended run replays them."""
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


YesNo = Annotated[Literal["yes", "no"], BeforeValidator(_yes_no)]
YesNoNotAsked = Annotated[Literal["yes", "no", "not_asked"], BeforeValidator(_yes_no)]


def _at(position: int) -> dict[str, Any]:
    return {"position": position}


class StageAnswer(BaseModel):
    coordinator: str = Field(
        min_length=1,
        max_length=100,
        title="协调员 Coordinator",
        json_schema_extra=_at(0),
        description="您的姓名：记入本案例的审计日志（界面没有登录）。"
        " Your name: it goes into the case's audit log (the UI has no logins).",
    )


class ContactAnswer(StageAnswer):
    """Re-mobilisation (再动员): did we reach the member, do they consent, are they healthy and free?"""

    # Whether the case goes on or closes: explicit choices, never a switch that starts off (an untouched
    # switch sends "no" and closed cases as declined). Consent and health are asked only of a member
    # reached: "not_asked" is their default, and a reached member answered so is asked again (rules.py).
    reached: YesNo = Field(title="联系上了吗？ Member reached?", json_schema_extra=_at(1))
    willing: YesNoNotAsked = Field(
        default="not_asked",
        title="愿意捐献（同意）吗？ Willing to donate (consents)?",
        description="联系上时必选 yes / no Required when reached",
        json_schema_extra=_at(2),
    )
    health_ok: YesNoNotAsked = Field(
        default="not_asked",
        title="健康问题都没问题吗？ Health questions all fine?",
        description="联系上时必选 yes / no Required when reached",
        json_schema_extra=_at(3),
    )
    available_from: date = Field(
        default_factory=today, title="可捐献起始日 Available from", json_schema_extra=_at(4)
    )
    available_to: date = Field(
        default_factory=_in_90_days, title="可捐献截止日 Available until", json_schema_extra=_at(5)
    )
    notes: str = Field(
        default="",
        max_length=500,
        title="备注（不填身份证号或手机号） Notes (no ID or phone numbers)",
        json_schema_extra=_at(6),
    )


class SampleBooked(StageAnswer):
    """High-resolution typing (高分辨): the confirmatory sample is booked — where and on which day the
    member gives it. The member hears of it at once and again the day before (models/reminders)."""

    site: str = Field(
        min_length=1,
        max_length=200,
        title="采样地点 Sample site",
        description="采血的医院或红十字会采样点。 The hospital or Red Cross site where the blood is drawn.",
        json_schema_extra=_at(1),
    )
    appointment_date: date = Field(
        title="采样预约日期 Sample appointment",
        description="志愿者前来采样的日期（上海时间）：前一天会提醒志愿者。"
        " The day the member comes to give the sample (Shanghai time): they are reminded the day before.",
        json_schema_extra=_at(2),
    )


class SampleSent(StageAnswer):
    """High-resolution typing (高分辨): the confirmatory sample was taken and sent to the lab."""

    sample_date: date = Field(
        title="采样日期 Sample taken on",
        description="高分辨确认样本的采样日期（上海时间）。"
        " The day the confirmatory high-resolution sample was taken (Shanghai time).",
        json_schema_extra=_at(1),
    )
    lab: str = Field(
        min_length=1, max_length=100, title="分型实验室 Typing laboratory", json_schema_extra=_at(2)
    )
    volume_ml: int = Field(
        default=10,
        ge=1,
        le=30,
        title="样本量（mL，CMDP 上限 30） Sample volume (mL, CMDP max 30)",
        json_schema_extra=_at(3),
    )


_FIRST_TYPING_FIELD = 3  # after the result date and the centre's decision


def _typing_field(column: str) -> Any:
    """A typing column as a form field: the loci a match is graded on (hla.DEFAULT_LOCI: A, B, C, DRB1,
    the 8/8 match) must be given, DQB1 and DPB1 may be left blank."""
    place = _at(_FIRST_TYPING_FIELD + HLA_COLUMNS.index(column))
    title = column_title(column)
    if column_locus(column) in hla.DEFAULT_LOCI:
        return Field(min_length=1, max_length=64, title=title, json_schema_extra=place)
    return Field(default="", max_length=64, title=title, json_schema_extra=place)


class HighResResult(StageAnswer):
    """The lab's high-resolution typing and the transplant centre's decision."""

    result_date: date = Field(
        title="结果收到日期 Result received on",
        description="收到高分辨结果的日期（上海时间）。"
        " The day the high-resolution result was received (Shanghai time).",
        json_schema_extra=_at(1),
    )
    centre_decision: Literal["proceed_to_workup", "not_selected"] = Field(
        title="移植中心的决定 Transplant centre's decision",
        description="proceed_to_workup：进入捐献前体检；not_selected：未被选中。"
        " proceed_to_workup: go on to the pre-donation exam; not_selected: not selected.",
        json_schema_extra=_at(2),
    )
    # One field per typing column (models.registry.HLA_COLUMNS, a test holds the names to it); title,
    # place and whether it is required come from the column.
    a_1: str = _typing_field("a_1")
    a_2: str = _typing_field("a_2")
    b_1: str = _typing_field("b_1")
    b_2: str = _typing_field("b_2")
    c_1: str = _typing_field("c_1")
    c_2: str = _typing_field("c_2")
    drb1_1: str = _typing_field("drb1_1")
    drb1_2: str = _typing_field("drb1_2")
    dqb1_1: str = _typing_field("dqb1_1")
    dqb1_2: str = _typing_field("dqb1_2")
    dpb1_1: str = _typing_field("dpb1_1")
    dpb1_2: str = _typing_field("dpb1_2")


class ExamBooked(StageAnswer):
    """Pre-donation exam (捐献前体检) booked."""

    hospital: str = Field(min_length=1, max_length=200, title="体检医院 Hospital", json_schema_extra=_at(1))
    exam_date: date = Field(title="体检日期 Exam date", json_schema_extra=_at(2))


class ExamPanel(BaseModel):
    """CMDP 捐献前体检项目：每项都勾选才算通过（CMV 状态只记录，不作排除）。
    CMDP work-up panel: every item must be ticked for a pass (CMV status is recorded, not excluding)."""

    blood_count_ok: bool = Field(default=False, title="血常规正常 Blood count normal")
    abo_rh: Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"] = Field(title="ABO / Rh 血型 ABO / Rh")
    hbv_negative: bool = Field(default=False, title="乙肝病毒（HBV）阴性 HBV negative")
    hcv_negative: bool = Field(default=False, title="丙肝病毒（HCV）阴性 HCV negative")
    hiv_negative: bool = Field(default=False, title="艾滋病病毒（HIV）阴性 HIV negative")
    syphilis_negative: bool = Field(default=False, title="梅毒阴性 Syphilis negative")
    cmv: Literal["negative", "positive"] = Field(title="巨细胞病毒 IgG 抗体 CMV IgG")
    liver_ok: bool = Field(default=False, title="肝功能正常 Liver function normal")
    renal_ok: bool = Field(default=False, title="肾功能正常 Renal function normal")
    chest_xray_ok: bool = Field(default=False, title="胸片正常 Chest X-ray normal")
    ecg_ok: bool = Field(default=False, title="心电图正常 ECG normal")
    ultrasound_ok: bool = Field(default=False, title="腹部 B 超正常 Abdominal ultrasound normal")


class ExamResult(StageAnswer):
    result: Literal["passed", "deferred", "failed"] = Field(
        title="体检结果 Result",
        description="passed：合格；deferred：暂缓；failed：不合格。"
        " passed: fit to donate; deferred: not yet; failed: cannot donate.",
        json_schema_extra=_at(1),
    )
    result_date: date = Field(title="结果日期 Result date", json_schema_extra=_at(2))
    panel: ExamPanel = Field(title="体检项目 Exam panel", json_schema_extra=_at(3))
    deferred_until: date = Field(
        default_factory=today, title="如暂缓：暂缓至 If deferred: until", json_schema_extra=_at(4)
    )
    reason: str = Field(
        default="",
        max_length=200,
        title="如暂缓或不合格：原因 If deferred or failed: reason",
        json_schema_extra=_at(5),
    )


class DonationBooked(StageAnswer):
    """Collection booked: PBSC after 4–5 days of G-CSF, or bone marrow (CMDP)."""

    product: Literal["PBSC", "BM"] = Field(
        title="采集类型 Product",
        description="PBSC：外周血造血干细胞；BM：骨髓。 PBSC: peripheral blood stem cells; BM: bone marrow.",
        json_schema_extra=_at(1),
    )
    hospital: str = Field(
        min_length=1, max_length=200, title="采集医院 Collection hospital", json_schema_extra=_at(2)
    )
    gcsf_start: date = Field(
        title="动员剂 G-CSF 开始日期（PBSC） G-CSF starts on (PBSC)", json_schema_extra=_at(3)
    )
    collection_date: date = Field(title="采集日期 Collection date", json_schema_extra=_at(4))


class DonationCompleted(StageAnswer):
    completed: bool = Field(title="采集完成了吗？ Collection completed?", json_schema_extra=_at(1))
    collected_on: date = Field(
        default_factory=today, title="实际采集日期 Collected on", json_schema_extra=_at(2)
    )
    notes: str = Field(
        default="",
        max_length=500,
        title="备注（不填身份证号或手机号） Notes (no ID or phone numbers)",
        json_schema_extra=_at(3),
    )
