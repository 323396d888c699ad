"""`muster.soar.engine`: where a run goes after each step (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from muster.playbooks.definition import PlaybookDefinition
from muster.soar import engine

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def playbook(*steps: dict[str, Any], **extra: Any) -> PlaybookDefinition:
    return PlaybookDefinition.model_validate({"name": "p", "steps": list(steps), **extra})


def never(_: str) -> bool:
    return False


def test_condition_takes_the_first_matching_branch_else_the_else() -> None:
    pb = playbook(
        {
            "id": "c",
            "kind": "condition",
            "branches": [{"when": "severity >= 4", "next": "a"}, {"when": "x", "next": "b"}],
            "else": "z",
        },
        {"id": "a", "kind": "end"},
        {"id": "b", "kind": "end"},
        {"id": "z", "kind": "end"},
    )
    state = engine.State({})
    second = engine.arrive(pb, state, pb.step("c"), NOW, evaluate=lambda w: w == "x")
    assert second == engine.Goto("b", "else if #1 `x` matched")
    assert engine.arrive(pb, state, pb.step("c"), NOW, evaluate=never) == engine.Goto(
        "z", "no branch matched: else"
    )


def test_question_asks_until_its_timeout_and_falls_back_on_timeout() -> None:
    pb = playbook(
        {
            "id": "q",
            "kind": "question",
            "question": "block?",
            "options": ["yes", "no"],
            "answerMemory": "decision",
            "timeout": "15m",
            "onTimeout": "escalate",
            "next": "act",
        },
        {"id": "act", "kind": "end"},
        {"id": "escalate", "kind": "end", "outcome": "FAILED"},
    )
    state = engine.State({})
    assert engine.arrive(pb, state, pb.step("q"), NOW, evaluate=never) == engine.Ask(
        "q", NOW + timedelta(minutes=15)
    )
    timed_out = engine.route(pb, state, pb.step("q"), engine.TimedOut(), NOW)
    assert isinstance(timed_out, engine.Goto) and timed_out.step == "escalate"
    answered = engine.route(pb, state, pb.step("q"), engine.Answered("yes", "ana@x.test"), NOW)
    assert isinstance(answered, engine.Goto) and answered.step == "act"
    assert state.memory == {"decision": "yes", "decisionBy": "ana@x.test"}


def test_timeout_without_fallback_goes_on_to_next() -> None:
    pb = playbook(
        {"id": "q", "kind": "question", "question": "?", "answerMemory": "a", "next": "n"},
        {"id": "n", "kind": "end"},
    )
    move = engine.route(pb, engine.State({}), pb.step("q"), engine.TimedOut(), NOW)
    assert isinstance(move, engine.Goto) and move.step == "n"


def test_loop_runs_its_body_per_item_then_continues() -> None:
    pb = playbook(
        {
            "id": "each",
            "kind": "loop",
            "over": "memory.ips",
            "as": "ip",
            "body": "tag",
            "next": "done",
        },
        {"id": "tag", "kind": "action", "action": "noop"},
        {"id": "done", "kind": "end"},
    )
    state = engine.State({"ips": ["10.0.0.1", "10.0.0.2"]})
    first = engine.arrive(pb, state, pb.step("each"), NOW, evaluate=never, items=["a", "b"])
    assert isinstance(first, engine.Goto) and first.step == "tag"
    seen = [state.memory["ip"]]
    move = engine.route(pb, state, pb.step("tag"), engine.Done(), NOW)
    assert isinstance(move, engine.Goto) and move.step == "tag"
    seen.append(state.memory["ip"])
    assert state.memory["ipIndex"] == 1
    move = engine.route(pb, state, pb.step("tag"), engine.Done(), NOW)
    assert move == engine.Goto("done", "loop 'each' done")
    assert seen == ["a", "b"]
    assert "ip" not in state.memory and state.loops == []


def test_empty_loop_goes_straight_on_and_a_last_step_finishes() -> None:
    pb = playbook(
        {"id": "each", "kind": "loop", "over": "alerts", "body": "x", "next": "after"},
        {"id": "x", "kind": "action", "action": "noop"},
        {"id": "after", "kind": "action", "action": "noop"},
    )
    state = engine.State({})
    move = engine.arrive(pb, state, pb.step("each"), NOW, evaluate=never, items=[])
    assert isinstance(move, engine.Goto) and move.step == "after"
    end = engine.route(pb, state, pb.step("after"), engine.Done(), NOW)
    assert isinstance(end, engine.Finish) and end.outcome == "FINISHED"


def test_failure_goes_to_on_error_or_fails_the_run() -> None:
    pb = playbook(
        {"id": "a", "kind": "action", "action": "noop", "onError": "b"},
        {"id": "b", "kind": "action", "action": "noop"},
    )
    state = engine.State({})
    move = engine.route(pb, state, pb.step("a"), engine.Failed("boom"), NOW)
    assert isinstance(move, engine.Goto) and move.step == "b"
    assert state.memory["lastError"] == {"step": "a", "error": "boom"}
    failed = engine.route(pb, state, pb.step("b"), engine.Failed("again"), NOW)
    assert failed == engine.Finish("FAILED", "step 'b' failed: again")


def test_child_playbook_memory_lands_under_the_step() -> None:
    pb = playbook(
        {"id": "sub", "kind": "playbook", "playbook": "enrich", "next": "end"},
        {"id": "end", "kind": "end"},
    )
    state = engine.State({})
    assert engine.arrive(pb, state, pb.step("sub"), NOW, evaluate=never) == engine.StartChild(
        "enrich"
    )
    move = engine.route(pb, state, pb.step("sub"), engine.ChildEnded(True, {"score": 3}), NOW)
    assert isinstance(move, engine.Goto) and move.step == "end"
    assert state.memory["sub"] == {"score": 3}


def test_retry_delays_double_and_are_capped() -> None:
    delays = [engine.retry_delay(n).total_seconds() for n in range(1, 8)]
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(delays) == 8.0
