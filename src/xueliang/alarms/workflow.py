"""The alarm state machine as data, so the service, the API and the model test share one truth.

new → acknowledged → dispatched → on_scene → resolved, and false_alarm once a person has taken it.
Closing needs an acknowledgement first: the alarm latches until a person has looked at it, and the
time to acknowledge is always on record. Escalation is not a state: it is a level on an alarm that
is still `new` when its acknowledgement falls due."""

from __future__ import annotations

import enum

from xueliang.alarms.models import AlarmState


class Action(enum.StrEnum):
    acknowledge = "acknowledge"
    dispatch = "dispatch"
    on_scene = "on_scene"
    resolve = "resolve"
    false_alarm = "false_alarm"


S = AlarmState
TRANSITIONS: dict[Action, tuple[frozenset[AlarmState], AlarmState]] = {
    Action.acknowledge: (frozenset({S.new}), S.acknowledged),
    Action.dispatch: (frozenset({S.acknowledged}), S.dispatched),
    Action.on_scene: (frozenset({S.dispatched}), S.on_scene),
    Action.resolve: (frozenset({S.acknowledged, S.dispatched, S.on_scene}), S.resolved),
    Action.false_alarm: (frozenset({S.acknowledged, S.dispatched, S.on_scene}), S.false_alarm),
}
CLOSED = frozenset({S.resolved, S.false_alarm})
OPEN = frozenset(AlarmState) - CLOSED


def target(action: Action, current: AlarmState) -> AlarmState | None:
    """The state `action` leads to from `current`, or None when it is not allowed."""
    sources, to = TRANSITIONS[action]
    return to if current in sources else None


def reachable(start: AlarmState = S.new) -> set[AlarmState]:
    seen = {start}
    frontier = [start]
    while frontier:
        state = frontier.pop()
        for action in Action:
            nxt = target(action, state)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen
