"""Running a node for real: backup and restore, metrics and readiness, structured logs.

Sits in the wiring layer beside `api` and `config`: it reads every domain's state but no domain
imports it."""
