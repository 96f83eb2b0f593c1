"""hospital: hospitals and their booking rules, departments, doctors, sessions, numbered places,
bookings, no-show blocks, staff links, messages to households (issue 17)

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07 01:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospitals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("booking_window_days", sa.Integer(), nullable=False),
        sa.Column("cancel_cutoff_hour", sa.Integer(), nullable=False),
        sa.Column("per_department_per_day", sa.Integer(), nullable=False),
        sa.Column("no_show_limit", sa.Integer(), nullable=False),
        sa.Column("no_show_window_days", sa.Integer(), nullable=False),
        sa.Column("block_days", sa.Integer(), nullable=False),
        sa.Column("hold_minutes", sa.Integer(), nullable=False),
        sa.Column("morning_start_min", sa.Integer(), nullable=False),
        sa.Column("afternoon_start_min", sa.Integer(), nullable=False),
        sa.Column("place_minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospitals")),
        sa.UniqueConstraint("code", name=op.f("uq_hospitals_code")),
    )
    op.create_table(
        "hospital_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_blocks_hospital_id_hospitals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_blocks")),
    )
    with op.batch_alter_table("hospital_blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hospital_blocks_lookup", ["hospital_id", "id_number", "until"], unique=False
        )

    op.create_table(
        "hospital_departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_departments_hospital_id_hospitals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_departments")),
        sa.UniqueConstraint("hospital_id", "code", name="uq_hospital_departments_code"),
    )
    with op.batch_alter_table("hospital_departments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hospital_departments_hospital_id"), ["hospital_id"], unique=False
        )

    op.create_table(
        "hospital_doctors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=32), nullable=False),
        sa.Column("specialty", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["hospital_departments.id"],
            name=op.f("fk_hospital_doctors_department_id_hospital_departments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_doctors")),
    )
    with op.batch_alter_table("hospital_doctors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hospital_doctors_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "hospital_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("morning", "afternoon", name="period", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("stopped_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["hospital_departments.id"],
            name=op.f("fk_hospital_sessions_department_id_hospital_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["hospital_doctors.id"],
            name=op.f("fk_hospital_sessions_doctor_id_hospital_doctors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_sessions_hospital_id_hospitals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_sessions")),
        sa.UniqueConstraint("doctor_id", "day", "period", name="uq_hospital_sessions_doctor_day_period"),
    )
    with op.batch_alter_table("hospital_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_hospital_sessions_department_day", ["department_id", "day"], unique=False)
        batch_op.create_index("ix_hospital_sessions_hospital_day", ["hospital_id", "day"], unique=False)

    op.create_table(
        "hospital_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_staff_hospital_id_hospitals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_hospital_staff_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_staff")),
        sa.UniqueConstraint("user_id", name=op.f("uq_hospital_staff_user_id")),
    )
    with op.batch_alter_table("hospital_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hospital_staff_hospital_id"), ["hospital_id"], unique=False)

    op.create_table(
        "hospital_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("morning", "afternoon", name="period", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("arrival_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("booked_by", sa.Integer(), nullable=True),
        sa.Column("by_grid_worker", sa.Boolean(), nullable=False),
        sa.Column("patient_name", sa.String(length=64), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "booked",
                "cancelled",
                "attended",
                "no_show",
                "moved",
                name="bookingstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("slot_key", sa.String(length=40), nullable=True),
        sa.Column("active_key", sa.String(length=80), nullable=True),
        sa.Column("moved_to_id", sa.Integer(), nullable=True),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by"],
            ["users.id"],
            name=op.f("fk_hospital_bookings_booked_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["hospital_departments.id"],
            name=op.f("fk_hospital_bookings_department_id_hospital_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["hospital_doctors.id"],
            name=op.f("fk_hospital_bookings_doctor_id_hospital_doctors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_hospital_bookings_hospital_id_hospitals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_hospital_bookings_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["moved_to_id"],
            ["hospital_bookings.id"],
            name=op.f("fk_hospital_bookings_moved_to_id_hospital_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["hospital_sessions.id"],
            name=op.f("fk_hospital_bookings_session_id_hospital_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_bookings")),
        sa.UniqueConstraint("active_key", name=op.f("uq_hospital_bookings_active_key")),
        sa.UniqueConstraint("slot_key", name=op.f("uq_hospital_bookings_slot_key")),
    )
    with op.batch_alter_table("hospital_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hospital_bookings_booked_by"), ["booked_by"], unique=False)
        batch_op.create_index("ix_hospital_bookings_hospital_day", ["hospital_id", "day"], unique=False)
        batch_op.create_index(batch_op.f("ix_hospital_bookings_household_id"), ["household_id"], unique=False)
        batch_op.create_index("ix_hospital_bookings_id_number_state", ["id_number", "state"], unique=False)
        batch_op.create_index("ix_hospital_bookings_session_state", ["session_id", "state"], unique=False)

    op.create_table(
        "hospital_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("title_en", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("read_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["hospital_bookings.id"],
            name=op.f("fk_hospital_messages_booking_id_hospital_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_hospital_messages_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_messages")),
    )
    with op.batch_alter_table("hospital_messages", schema=None) as batch_op:
        batch_op.create_index("ix_hospital_messages_household", ["household_id", "id"], unique=False)

    op.create_table(
        "hospital_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("hold_token", sa.String(length=32), nullable=True),
        sa.Column("held_until", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("held_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["hospital_bookings.id"],
            name=op.f("fk_hospital_places_booking_id_hospital_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["held_by"], ["users.id"], name=op.f("fk_hospital_places_held_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["hospital_sessions.id"],
            name=op.f("fk_hospital_places_session_id_hospital_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_places")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_hospital_places_booking_id")),
        sa.UniqueConstraint("hold_token", name=op.f("uq_hospital_places_hold_token")),
        sa.UniqueConstraint("session_id", "number", name="uq_hospital_places_session_number"),
    )
    with op.batch_alter_table("hospital_places", schema=None) as batch_op:
        batch_op.create_index("ix_hospital_places_holder_booking", ["held_by", "booking_id"], unique=False)
        batch_op.create_index(
            "ix_hospital_places_session_booking", ["session_id", "booking_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hospital_places", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_places_session_booking")
        batch_op.drop_index("ix_hospital_places_holder_booking")

    op.drop_table("hospital_places")
    with op.batch_alter_table("hospital_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_messages_household")

    op.drop_table("hospital_messages")
    with op.batch_alter_table("hospital_bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_bookings_session_state")
        batch_op.drop_index("ix_hospital_bookings_id_number_state")
        batch_op.drop_index(batch_op.f("ix_hospital_bookings_household_id"))
        batch_op.drop_index("ix_hospital_bookings_hospital_day")
        batch_op.drop_index(batch_op.f("ix_hospital_bookings_booked_by"))

    op.drop_table("hospital_bookings")
    with op.batch_alter_table("hospital_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hospital_staff_hospital_id"))

    op.drop_table("hospital_staff")
    with op.batch_alter_table("hospital_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_sessions_hospital_day")
        batch_op.drop_index("ix_hospital_sessions_department_day")

    op.drop_table("hospital_sessions")
    with op.batch_alter_table("hospital_doctors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hospital_doctors_department_id"))

    op.drop_table("hospital_doctors")
    with op.batch_alter_table("hospital_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hospital_departments_hospital_id"))

    op.drop_table("hospital_departments")
    with op.batch_alter_table("hospital_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_hospital_blocks_lookup")

    op.drop_table("hospital_blocks")
    op.drop_table("hospitals")
