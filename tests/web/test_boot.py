"""The console's buttons follow the server's alarm workflow: the table in the boot JSON is the one in
alarms/workflow.py, not a copy kept by hand."""

from __future__ import annotations

from xueliang.alarms.workflow import CLOSED, TRANSITIONS, Action
from xueliang.web.views import alarm_workflow


def test_boot_workflow_is_the_server_table() -> None:
    table = alarm_workflow()
    assert [a["action"] for a in table["actions"]] == [a.value for a in TRANSITIONS]
    for entry in table["actions"]:
        sources, target = TRANSITIONS[Action(entry["action"])]
        assert set(entry["from"]) == {s.value for s in sources} and entry["to"] == target.value
    assert set(table["closed"]) == {s.value for s in CLOSED}
