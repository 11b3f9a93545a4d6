"""The alert outbox: notifications written with the incident change they announce, delivered later.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("route", sa.String(100), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float),
        sa.Column("delivered_at", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("message", sa.Text),
        sa.UniqueConstraint("key", name="uq_alert_outbox_key"),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["state", "next_at"])
    op.create_index("ix_alert_outbox_incident", "alert_outbox", ["incident_id"])


def downgrade() -> None:
    op.drop_table("alert_outbox")
