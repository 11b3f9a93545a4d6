"""Monitor signals: out-of-control points, drift and schema changes, per partition.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("column_name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("center", sa.Float),
        sa.Column("lower", sa.Float),
        sa.Column("upper", sa.Float),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("direction", sa.String(10)),
        sa.Column("details", sa.JSON),
        sa.Column("run_id", sa.String(40)),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_signals_key", "signals", ["project", "asset", "partition_key"])
    op.create_index("ix_signals_created", "signals", ["project", "created_at"])


def downgrade() -> None:
    op.drop_table("signals")
