"""The review state machine: every allowed and refused transition."""

from __future__ import annotations

import pytest
from lootwatch.alerts.states import ACTIONS, STATES, allowed_actions, next_state

from lootwatch.core.errors import StateError


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        ("new", "confirm", "confirmed"),
        ("new", "dismiss", "dismissed"),
        ("new", "escalate", "escalated"),
        ("escalated", "confirm", "confirmed"),
        ("escalated", "dismiss", "dismissed"),
    ],
)
def test_allowed_transitions(state: str, action: str, expected: str) -> None:
    assert next_state(state, action) == expected


@pytest.mark.parametrize("state", ["confirmed", "dismissed"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_final_states_refuse_every_action(state: str, action: str) -> None:
    with pytest.raises(StateError, match=f"already {state}"):
        next_state(state, action)


def test_escalated_cannot_be_escalated_again() -> None:
    with pytest.raises(StateError, match="cannot escalate an item that is escalated"):
        next_state("escalated", "escalate")


def test_unknown_action_and_state_are_refused() -> None:
    with pytest.raises(StateError, match="unknown action 'approve'"):
        next_state("new", "approve")
    with pytest.raises(StateError, match="unknown review state 'open'"):
        next_state("open", "confirm")


def test_allowed_actions_match_next_state() -> None:
    for state in STATES:
        offered = allowed_actions(state)
        for action in ACTIONS:
            if action in offered:
                assert next_state(state, action) in STATES
            else:
                with pytest.raises(StateError):
                    next_state(state, action)
    assert allowed_actions("new") == ["confirm", "dismiss", "escalate"]
    assert allowed_actions("confirmed") == []
