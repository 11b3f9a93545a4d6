"""The durable event log, the code definitions behind each code version, and the judgement of
each metric point (centre line, limits, state) stored when the monitors evaluate it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200)),
        sa.Column("partition_key", sa.String(64)),
        sa.Column("run_id", sa.String(40)),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_kind", "events", ["kind", "id"])
    op.create_index("ix_events_key", "events", ["project", "asset", "partition_key"])
    op.create_table(
        "code_versions",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("code_version", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("location", sa.String(400)),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("metric_points") as batch:
        batch.add_column(sa.Column("center", sa.Float))
        batch.add_column(sa.Column("lower", sa.Float))
        batch.add_column(sa.Column("upper", sa.Float))
        batch.add_column(sa.Column("state", sa.String(12)))


def downgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        for name in ("state", "upper", "lower", "center"):
            batch.drop_column(name)
    op.drop_table("code_versions")
    op.drop_index("ix_events_key", "events")
    op.drop_index("ix_events_kind", "events")
    op.drop_table("events")
