"""Baseline resets: a series accepted as a new normal from a partition on.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baseline_resets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("column_name", sa.String(200)),
        sa.Column("metric", sa.String(100)),
        sa.Column("from_key", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_baseline_resets_asset", "baseline_resets", ["project", "asset"])


def downgrade() -> None:
    op.drop_index("ix_baseline_resets_asset", "baseline_resets")
    op.drop_table("baseline_resets")
