"""What a coordinator records at a follow-up after a stem-cell donation (issue 11 item 2): the donor's
answers, and whether a serious adverse event or reaction happened, with its WMDA S(P)EAR category.

A plain pydantic model (the follow-up flow shows it as a UI form: flows/forms.py), with the stage forms'
conventions (models/cases/forms.py): bilingual titles, `position` ordering, yes/no choices instead of
switches, no Optional. Pydantic checks the shape; the rules between fields are `check_follow_up_answer`,
raising our ValidationError with a zh-CN first message, so a flow asks again instead of failing.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from models.cases.follow_ups import FOLLOW_UP_SCHEDULE
from models.cases.forms import StageAnswer, YesNo, today
from models.core import ValidationError, local_date, utcnow

__all__ = [
    "FOLLOW_UP_KINDS",
    "FollowUpAnswer",
    "FollowUpKind",
    "SpearCategory",
    "Symptom",
    "check_follow_up_answer",
    "follow_up_kind",
    "follow_up_label",
]

# The follow-up kinds as the issue and the messages spell them (`month_1`); the rows keep the schedule's
# labels (`month-1`, models/cases/follow_ups.py).
FOLLOW_UP_KINDS: tuple[str, ...] = tuple(
    label.replace("-", "_") for label, _days, _months in FOLLOW_UP_SCHEDULE
)
# The same, as a type: the follow-up deployment's `kind` parameter renders as a dropdown in the Prefect UI
# and the server refuses anything else before a run starts (a unit test keeps it equal to the schedule).
FollowUpKind = Literal[
    "day_2", "week_1", "month_1", "month_6", "year_1", "year_2", "year_3", "year_4", "year_5", "year_6",
    "year_7", "year_8", "year_9", "year_10",
]  # fmt: skip


def follow_up_label(kind: str) -> str:
    """`month_1` → `month-1` (the FollowUp row's label); ValidationError naming the valid kinds."""
    if kind not in FOLLOW_UP_KINDS:
        raise ValidationError(
            f"未知的随访类型 unknown follow-up kind {kind!r}; 可选 valid: {', '.join(FOLLOW_UP_KINDS)}"
        )
    return kind.replace("_", "-")


def follow_up_kind(label: str) -> str:
    """`month-1` → `month_1`."""
    return label.replace("-", "_")


class SpearCategory(StrEnum):
    """The category of a serious adverse event or reaction of a donor, as reported to the national registry.

    WMDA S(P)EAR (Serious (Product) Events and Adverse Reactions; WMDA S(P)EAR reporting, wmda.info):
    an event is serious when it is fatal, life-threatening, needs or prolongs hospitalisation, or leaves a
    lasting disability; the last four name the cause the WMDA reports ask about (mobilisation with G-CSF,
    anaesthesia for a marrow harvest, a central venous catheter for apheresis, anything else).
    """

    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    HOSPITALISATION = "hospitalisation"
    DISABILITY = "disability"
    GCSF_RELATED = "gcsf_related"
    ANAESTHESIA_RELATED = "anaesthesia_related"
    CATHETER_RELATED = "catheter_related"
    OTHER = "other"


Symptom = Literal["fatigue", "bone_pain", "headache", "fever", "bleeding_bruising", "other", "none"]
SpearChoice = Literal[
    "none",
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "gcsf_related",
    "anaesthesia_related",
    "catheter_related",
    "other",
]


def _at(position: int) -> dict[str, Any]:
    return {"position": position}


class FollowUpAnswer(StageAnswer):
    """随访 Follow-up: how the donor is after the donation, and any serious adverse event or reaction."""

    contacted_on: date = Field(
        default_factory=today,
        title="随访日期 Follow-up date",
        description="与捐献者联系（或收到问卷）的日期（上海时间）。"
        " The day the donor was reached or answered (Shanghai time).",
        json_schema_extra=_at(1),
    )
    recovered: YesNo = Field(title="已康复 Recovered?", json_schema_extra=_at(2))
    symptoms: list[Symptom] = Field(
        default_factory=list,
        title="症状 Symptoms",
        description="可多选；没有症状请选 none。"
        " fatigue 乏力 · bone_pain 骨痛 · headache 头痛 · fever 发热 ·"
        " bleeding_bruising 出血/瘀斑 · other 其他 · none 无。"
        " Choose all that apply; none if there are none.",
        json_schema_extra=_at(3),
    )
    days_off_work: int = Field(
        default=0, ge=0, le=366, title="误工天数 Days off work", json_schema_extra=_at(4)
    )
    medication: str = Field(
        default="",
        max_length=300,
        title="用药（不填身份证号或手机号） Medication (no ID or phone numbers)",
        json_schema_extra=_at(5),
    )
    # An explicit choice, never a switch that starts off: an untouched switch would record "no event".
    serious_event: YesNo = Field(
        title="严重不良事件或反应（S(P)EAR）？ Serious adverse event or reaction (S(P)EAR)?",
        description="WMDA S(P)EAR：死亡、危及生命、需住院或延长住院、致残，"
        "或与 G-CSF、麻醉、导管相关的严重事件。"
        " WMDA S(P)EAR: death, life-threatening, hospitalisation, disability, or serious G-CSF, anaesthesia"
        " or catheter related events.",
        json_schema_extra=_at(6),
    )
    spear_category: SpearChoice = Field(
        default="none",
        title="S(P)EAR 类别 S(P)EAR category",
        description="有严重不良事件时必选；没有时保持 none。 Required for a serious event; none otherwise.",
        json_schema_extra=_at(7),
    )
    spear_description: str = Field(
        default="",
        max_length=500,
        title="事件简述（不填姓名、身份证号或手机号） Short description (no names, ID or phone numbers)",
        json_schema_extra=_at(8),
    )

    @property
    def spear(self) -> SpearCategory | None:
        """The S(P)EAR category when a serious event is recorded, else None."""
        if self.serious_event == "yes" and self.spear_category != "none":
            return SpearCategory(self.spear_category)
        return None


def check_follow_up_answer(answer: FollowUpAnswer, now: datetime | None = None) -> None:
    """The rules between the answer's fields; ValidationError with every problem, zh-CN first."""
    problems: list[str] = []
    if not answer.symptoms:
        problems.append("请选择症状，没有症状请选 none（choose the symptoms, or none）")
    elif "none" in answer.symptoms and len(answer.symptoms) > 1:
        problems.append("“无症状 none”不能与其他症状同时选择（none cannot go with other symptoms）")
    if answer.serious_event == "yes" and answer.spear_category == "none":
        problems.append(
            "填报了严重不良事件，但未选择 S(P)EAR 类别（a serious event needs its S(P)EAR category）"
        )
    if answer.serious_event == "yes" and not answer.spear_description.strip():
        problems.append("请简述严重不良事件（describe the serious event in a few words）")
    if answer.serious_event == "no" and answer.spear_category != "none":
        problems.append(
            "选择了 S(P)EAR 类别，但未填报严重不良事件（a S(P)EAR category without a serious event: "
            "answer yes, or set the category back to none）"
        )
    if answer.contacted_on > local_date(now or utcnow()):
        problems.append(f"随访日期 {answer.contacted_on} 在今天之后（the follow-up date is in the future）")
    if problems:
        raise ValidationError("；".join(problems))
