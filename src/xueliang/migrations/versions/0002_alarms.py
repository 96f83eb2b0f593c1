"""alarms: alarms, presses, history, station settings, devices, mobilization plans; durable timers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:39:35.997036
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("due_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fired_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("key", name=op.f("uq_timers_key")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_pending", ["done", "due_at"], unique=False)

    op.create_table(
        "alarm_station_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("escalate_after_s", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_alarm_station_configs_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_station_configs")),
        sa.UniqueConstraint("region_id", name=op.f("uq_alarm_station_configs_region_id")),
    )
    op.create_table(
        "alarm_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("last_seen_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_alarm_devices_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_alarm_devices_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_devices")),
        sa.UniqueConstraint("device_id", name=op.f("uq_alarm_devices_device_id")),
    )
    with op.batch_alter_table("alarm_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_devices_region_id"), ["region_id"], unique=False)

    op.create_table(
        "guard_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("line", sa.JSON(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["place_id"], ["places.id"], name=op.f("fk_guard_points_place_id_places")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_guard_points_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_points")),
    )
    with op.batch_alter_table("guard_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guard_points_region_id"), ["region_id"], unique=False)

    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "emergency",
                "fire",
                "medical",
                "intrusion",
                "camera_offline",
                name="alarmkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "new",
                "acknowledged",
                "dispatched",
                "on_scene",
                "resolved",
                "false_alarm",
                name="alarmstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("region_path", sa.String(length=255), nullable=False),
        sa.Column("station_region_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("raised_by", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("pressed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_press_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("press_count", sa.Integer(), nullable=False),
        sa.Column("ack_due_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("dispatched_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("dispatched_to", sa.String(length=200), nullable=False),
        sa.Column("dispatched_user_id", sa.Integer(), nullable=True),
        sa.Column("on_scene_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_alarms_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_alarms_camera_id_cameras")),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"], name=op.f("fk_alarms_closed_by_users")),
        sa.ForeignKeyConstraint(
            ["dispatched_user_id"], ["users.id"], name=op.f("fk_alarms_dispatched_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_alarms_household_id_households")
        ),
        sa.ForeignKeyConstraint(["raised_by"], ["users.id"], name=op.f("fk_alarms_raised_by_users")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_alarms_region_id_regions")),
        sa.ForeignKeyConstraint(
            ["station_region_id"], ["regions.id"], name=op.f("fk_alarms_station_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alarms_open_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_alarms_uuid")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarms_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_raised_by"), ["raised_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_region_path"), ["region_path"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_alarms_station_region_id"), ["station_region_id"], unique=False)

    op.create_table(
        "guard_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["guard_points.id"],
            name=op.f("fk_guard_assignments_point_id_guard_points"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_guard_assignments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_assignments")),
        sa.UniqueConstraint("point_id", "user_id", name=op.f("uq_guard_assignments_point_id")),
    )
    with op.batch_alter_table("guard_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guard_assignments_point_id"), ["point_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_guard_assignments_user_id"), ["user_id"], unique=False)

    op.create_table(
        "alarm_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_events_alarm_id_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_events")),
    )
    with op.batch_alter_table("alarm_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_events_alarm_id"), ["alarm_id"], unique=False)

    op.create_table(
        "alarm_presses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("pressed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_presses_alarm_id_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_presses")),
        sa.UniqueConstraint("uuid", name=op.f("uq_alarm_presses_uuid")),
    )
    with op.batch_alter_table("alarm_presses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_presses_alarm_id"), ["alarm_id"], unique=False)

    op.create_table(
        "mobilizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("activated_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.Integer(), nullable=True),
        sa.Column("stood_down_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("stood_down_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activated_by"], ["users.id"], name=op.f("fk_mobilizations_activated_by_users")
        ),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], name=op.f("fk_mobilizations_alarm_id_alarms")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_mobilizations_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["stood_down_by"], ["users.id"], name=op.f("fk_mobilizations_stood_down_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobilizations")),
        sa.UniqueConstraint("alarm_id", name=op.f("uq_mobilizations_alarm_id")),
    )
    with op.batch_alter_table("mobilizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mobilizations_region_id"), ["region_id"], unique=False)

    op.create_table(
        "mobilization_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mobilization_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("assigned", "in_position", "closed", name="taskstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("assigned_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("in_position_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mobilization_id"],
            ["mobilizations.id"],
            name=op.f("fk_mobilization_tasks_mobilization_id_mobilizations"),
        ),
        sa.ForeignKeyConstraint(
            ["point_id"], ["guard_points.id"], name=op.f("fk_mobilization_tasks_point_id_guard_points")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mobilization_tasks_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobilization_tasks")),
    )
    with op.batch_alter_table("mobilization_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobilization_tasks_mobilization_id"), ["mobilization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mobilization_tasks_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mobilization_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobilization_tasks_user_id"))
        batch_op.drop_index(batch_op.f("ix_mobilization_tasks_mobilization_id"))

    op.drop_table("mobilization_tasks")
    with op.batch_alter_table("mobilizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobilizations_region_id"))

    op.drop_table("mobilizations")
    with op.batch_alter_table("alarm_presses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_presses_alarm_id"))

    op.drop_table("alarm_presses")
    with op.batch_alter_table("alarm_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_events_alarm_id"))

    op.drop_table("alarm_events")
    with op.batch_alter_table("guard_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_assignments_user_id"))
        batch_op.drop_index(batch_op.f("ix_guard_assignments_point_id"))

    op.drop_table("guard_assignments")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarms_station_region_id"))
        batch_op.drop_index(batch_op.f("ix_alarms_state"))
        batch_op.drop_index(batch_op.f("ix_alarms_region_path"))
        batch_op.drop_index(batch_op.f("ix_alarms_region_id"))
        batch_op.drop_index(batch_op.f("ix_alarms_received_at"))
        batch_op.drop_index(batch_op.f("ix_alarms_raised_by"))
        batch_op.drop_index(batch_op.f("ix_alarms_household_id"))

    op.drop_table("alarms")
    with op.batch_alter_table("guard_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guard_points_region_id"))

    op.drop_table("guard_points")
    with op.batch_alter_table("alarm_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_devices_region_id"))

    op.drop_table("alarm_devices")
    op.drop_table("alarm_station_configs")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_pending")

    op.drop_table("timers")
