"""Incidents and their members: one root cause, one incident.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("root_asset", sa.String(200), nullable=False),
        sa.Column("root_partition", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("reason", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("reopened", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_incidents_state", "incidents", ["project", "state"])
    op.create_table(
        "incident_members",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Integer),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("asset", sa.String(200)),
        sa.Column("partition_key", sa.String(64)),
        sa.Column("run_id", sa.String(40)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_incident_members_incident", "incident_members", ["incident_id"])


def downgrade() -> None:
    op.drop_table("incident_members")
    op.drop_table("incidents")
