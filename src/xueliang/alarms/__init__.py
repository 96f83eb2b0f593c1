"""One-click alarms: intake, routing, workflow, escalation, mobilization, records."""
