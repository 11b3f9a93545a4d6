"""The forecast chart's state per monitored series, so judging a new partition takes one step.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_states",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("column_name", sa.String(200), primary_key=True),
        sa.Column("metric", sa.String(100), primary_key=True),
        sa.Column("last_key", sa.String(64), nullable=False),
        sa.Column("settings", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chart_states")
