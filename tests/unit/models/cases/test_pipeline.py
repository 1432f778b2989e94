"""The state machines as pure data: every stage reachable, nothing skips a step."""

from __future__ import annotations

from models.cases import CASE_MOVES, CaseStage, CaseStatus, allowed_case_moves


def test_every_stage_has_exactly_one_way_forward_except_completed() -> None:
    for stage, moves in CASE_MOVES.items():
        assert len(moves) == (0 if stage is CaseStage.COMPLETED else 1), stage


def test_pipeline_order_is_the_cmdp_sequence() -> None:
    stage, order = CaseStage.SCREENED, [CaseStage.SCREENED]
    while CASE_MOVES[stage]:
        (stage,) = CASE_MOVES[stage]
        order.append(stage)
    assert [s.value for s in order] == [
        "screened",
        "remobilising",
        "high_res_typing",
        "exam",
        "donation",
        "follow_up",
        "completed",
    ]


def test_closed_case_allows_nothing_and_active_case_may_close() -> None:
    assert allowed_case_moves(CaseStage.EXAM, CaseStatus.CLOSED) == []
    assert allowed_case_moves(CaseStage.EXAM, CaseStatus.ACTIVE) == ["donation", "close"]
    assert allowed_case_moves(CaseStage.COMPLETED, CaseStatus.ACTIVE) == []
