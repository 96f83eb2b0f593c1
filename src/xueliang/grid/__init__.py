"""Grid management (网格化管理): patrol routes and check-ins, the care registry and daily
visits, "I'm OK", field incidents, video patrol tours and coverage (issue 16)."""
