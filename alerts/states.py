"""The review state machine, free of any database so it can be tested and shown on its own.

new -> confirmed | dismissed | escalated; escalated -> confirmed | dismissed. Confirmed and
dismissed are final: a wrong verdict is corrected by an admin in the database, never silently,
because the decisions table is the audit trail police and museums rely on.
"""

from __future__ import annotations

from lootwatch.core.errors import StateError

STATES = ("new", "confirmed", "dismissed", "escalated")
ACTIONS = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
FINAL = frozenset({"confirmed", "dismissed"})

# state -> actions allowed from it
ALLOWED: dict[str, frozenset[str]] = {
    "new": frozenset({"confirm", "dismiss", "escalate"}),
    "escalated": frozenset({"confirm", "dismiss"}),
    "confirmed": frozenset(),
    "dismissed": frozenset(),
}


def next_state(state: str, action: str) -> str:
    """The state ``action`` leads to from ``state``; :class:`StateError` when not allowed."""
    if action not in ACTIONS:
        raise StateError(f"unknown action {action!r} (expected one of: {', '.join(ACTIONS)})")
    if state not in ALLOWED:
        raise StateError(f"unknown review state {state!r}")
    if action not in ALLOWED[state]:
        if state in FINAL:
            raise StateError(f"cannot {action}: the item is already {state} (a final state)")
        raise StateError(f"cannot {action} an item that is {state}")
    return ACTIONS[action]


def allowed_actions(state: str) -> list[str]:
    """Actions offered to an analyst for an item in ``state``, in a stable order."""
    return [a for a in ACTIONS if a in ALLOWED.get(state, frozenset())]
