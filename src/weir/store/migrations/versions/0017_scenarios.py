"""Scenarios and the daemon: ticks created once and claimed with a lease, what each scenario's
triggers have handled, and a heartbeat row per daemon.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario_ticks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("scenario", sa.String(200), nullable=False),
        sa.Column("scheduled_for", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("fired_by", sa.JSON, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("holder", sa.String(100)),
        sa.Column("lease_until", sa.Float),
        sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
        sa.Column("step", sa.Integer, nullable=False, server_default="0"),
        sa.Column("steps", sa.JSON),
        sa.Column("run_ids", sa.JSON),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("outcome", sa.Text),
        sa.Column("incidents", sa.JSON),
        sa.Column("reports", sa.JSON),
        sa.UniqueConstraint("project", "scenario", "scheduled_for", name="uq_scenario_ticks_occurrence"),
    )
    op.create_index("ix_scenario_ticks_due", "scenario_ticks", ["state", "due_at"])
    op.create_index("ix_scenario_ticks_scenario", "scenario_ticks", ["project", "scenario", "id"])
    op.create_table(
        "scenario_triggers",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("scenario", sa.String(200), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "daemons",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("stopped_at", sa.Float),
        sa.Column("projects", sa.JSON),
        sa.Column("doing", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("daemons")
    op.drop_table("scenario_triggers")
    op.drop_table("scenario_ticks")
