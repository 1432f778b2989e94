"""初筛: a patient search becomes screened cases — for the candidates the national registry proposed,
or for the best members of this registry's own HLA search."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel, Field

from flows.relay import relay_pending_events
from flows.runtime import config, current_run_id, session
from hla import Locus
from models.cases import PatientSearchCreate, ensure_search, screen_candidates
from models.core import Session, ValidationError
from models.matching import patient_genotype, remobilisation_order, search_registry

__all__ = ["PatientSearchForm", "initial_screening"]


def _at(position: int) -> dict[str, Any]:
    return {"position": position}


class PatientSearchForm(BaseModel):
    """The patient's search as the national registry sends it (no patient names here: codes only)."""

    patient_code: str = Field(
        min_length=1, max_length=64, title="患者编号 Patient code", json_schema_extra=_at(0)
    )
    centre: str = Field(
        min_length=1, max_length=200, title="移植中心 Transplant centre", json_schema_extra=_at(1)
    )
    diagnosis: str = Field(default="", max_length=200, title="诊断 Diagnosis", json_schema_extra=_at(2))
    urgency: Literal["routine", "urgent"] = Field(
        default="routine",
        title="紧急程度 Urgency",
        description="routine：常规；urgent：紧急。",
        json_schema_extra=_at(3),
    )
    hla: str = Field(
        default="",
        max_length=500,
        title="患者 HLA 分型（GL 字符串或以空格分隔） Patient HLA typing (GL string or space-separated)",
        json_schema_extra=_at(4),
    )


@flow(name="initial-screening", flow_run_name="initial-screening-{search.patient_code}", persist_result=True)
def initial_screening(
    search: PatientSearchForm,
    coordinator: str,
    # Lists, not Optional: Optional renders as confusing "X / None" tabs in the UI (PREFECT.md). The
    # defaults are never mutated (copied below), so sharing them between runs is safe.
    candidate_codes: list[str] = [],  # noqa: B006
    top_k: int = 10,
    max_mismatches: int = 1,
    loci: list[Locus] = ["A", "B", "C", "DRB1"],  # noqa: B006
    dpb1_apart: bool = False,
) -> dict[str, int]:
    """Open screened cases for a patient: the national search's candidates, or this registry's best matches.

    Args:
        search: 患者检索（编号、移植中心、诊断、紧急程度、HLA 分型）。
            The patient search (code, centre, diagnosis, urgency, HLA typing).
        coordinator: 协调员：您的姓名（记入审计日志）。 Your name (goes into the audit log).
        candidate_codes: 全国检索推荐的本库成员编号；留空则在本库检索。
            Registry codes proposed by the national search; leave empty to search here.
        top_k: 在本库检索时，对排名最前的多少位成员进行初筛。
            When searching here, how many of the best-ranked members to screen.
        max_mismatches: 在本库检索时允许的错配数（默认按 A、B、C、DRB1 计 8/8）。
            When searching here, mismatches allowed (8/8 over A, B, C, DRB1 by default).
        loci: 在本库检索时计分的位点（A、B、DRB1 = 6/6 … 全部六个 = 12/12）。
            When searching here, the loci scored (A, B, DRB1 = 6/6 … all six = 12/12).
        dpb1_apart: 选中时 DPB1 不计入总分：仍分级，按 TCE 允许性排序（允许性错配在前）。
            When set, DPB1 is graded and ranks by TCE permissiveness but is left out of the total.
    """
    logger = get_run_logger()
    wanted: list[str] = list(loci)
    ranked: list[dict[str, object]] = []
    with session() as db_session:
        patient = ensure_search(
            session=db_session,
            data=PatientSearchCreate(
                patient_code=search.patient_code,
                centre=search.centre,
                diagnosis=search.diagnosis or None,
                urgency=search.urgency,
            ),
            hla_text=search.hla,
        )
        codes = list(candidate_codes)
        if not codes:
            codes, ranked = _search_here(
                db_session, search.hla, wanted, max_mismatches, top_k, count_dpb1=not dpb1_apart
            )
        report = screen_candidates(
            session=db_session,
            search_id=patient.id,
            codes=codes,
            actor=f"coordinator:{coordinator}",
            flow_run_id=current_run_id(),
        )
    # The cases' `donorflow.case.screened` events were enqueued with them: emitted now, after the commit.
    relay_pending_events()
    key = f"screening-{_slug(search.patient_code)}"
    if ranked:
        create_table_artifact(
            ranked,
            key=f"{key}-ranked",
            description=f"HLA search for patient {search.patient_code}: best first",
        )
    rows = [{"case_id": r["case_id"], "member": r["code"], "result": "screened"} for r in report.opened]
    rows += [
        {"case_id": r["case_id"], "member": r["code"], "result": "already screened"}
        for r in report.already_open
    ]
    rows += [{"case_id": "", "member": r["code"], "result": r["reason"]} for r in report.refused]
    create_table_artifact(
        rows, key=key, description=f"Initial screening for patient {search.patient_code}: cases opened"
    )
    for refused in report.refused:
        logger.warning("candidate %s not screened: %s", refused["code"], refused["reason"])
    return {
        "opened": len(report.opened),
        "already_open": len(report.already_open),
        "refused": len(report.refused),
    }


def _search_here(
    db_session: Session,
    hla_text: str,
    loci: list[str],
    max_mismatches: int,
    top_k: int,
    *,
    count_dpb1: bool = True,
) -> tuple[list[str], list[dict[str, object]]]:
    """This registry's own search (DESIGN.md §4): the codes in the order their members are to be called
    (most likely full match first, when a haplotype-frequency set is configured) and a masked table."""
    flow_config = config()
    opener = flow_config.hla_index
    if not hla_text.strip() or opener is None:
        raise ValidationError(
            "既无候选编号也无患者HLA分型，无法检索 "
            "no candidate codes and no patient HLA typing to search with"
        )
    index = opener(db_session)
    # Read the patient with the tables the index was built with (P groups, serology, history): a typing
    # read without them would compare 02:01 against the index's 02:01P and miss allele matches.
    patient = patient_genotype(hla_text, index.reference)
    haplotypes = flow_config.hla_haplotypes() if flow_config.hla_haplotypes else None
    total, rows = search_registry(
        session=db_session,
        index=index,
        patient=patient,
        loci=loci,
        max_mismatches=max_mismatches,
        limit=top_k,
        haplotypes=haplotypes,
        count_dpb1=count_dpb1,
    )
    get_run_logger().info(
        "HLA search: %d members within %d mismatches; screening the best %d", total, max_mismatches, len(rows)
    )
    untyped = [locus for locus in loci if not patient.typed(locus)]
    if untyped:  # issue 13 item 7: locus names only, no personal data
        get_run_logger().warning(
            "patient not typed at %s: searched as potential at every position there", ", ".join(untyped)
        )
    called = remobilisation_order(rows)
    call_order = {row.code: n for n, row in enumerate(called, start=1)}
    table: list[dict[str, object]] = []
    for n, row in enumerate(rows, start=1):
        entry: dict[str, object] = {
            "rank": n,
            "call_order": call_order[row.code],
            "member": row.code,
            "match": f"{row.result.matched}/{row.result.of}",
            "certainty": str(row.result.certainty),
            "mismatches": row.result.mismatches,
            "patient_untyped": ", ".join(row.result.patient_untyped),
            # Issue 13 items 4 and 6: where a null allele is involved, and DPB1 permissiveness.
            "nulls": ", ".join(
                f"{locus}: {'/'.join(str(flag) for flag in flags if flag is not None)}"
                for locus, flags in zip(row.result.loci, row.result.nulls, strict=True)
                if any(flags)
            ),
            "dpb1_tce": "" if row.result.dpb1_tce is None else str(row.result.dpb1_tce),
            "dpb1_counted": "DPB1" in row.result.loci and "DPB1" not in row.result.not_counted,
        }
        if haplotypes is not None:
            chances = row.likelihood.as_dict() if row.likelihood else {}
            entry.update(
                {
                    "p_full": chances.get("full"),
                    "p_6_6": chances.get("6/6"),
                    "p_8_8": chances.get("8/8"),
                    "p_10_10": chances.get("10/10"),
                    "likelihood_note": chances.get("note", ""),
                    "haplotype_set": row.haplotype_set,
                }
            )
        table.append(entry)
    # Cases open in call order: the workbench lists a stage's cases longest-waiting first, so the member
    # most likely to be a full match is the first one a coordinator re-mobilises.
    return [row.code for row in called], table


def _slug(text: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes only."""
    slug = "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in text.lower())
    return slug.strip("-") or "patient"
