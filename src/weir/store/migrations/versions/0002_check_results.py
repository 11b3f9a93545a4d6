"""Check results: one row per check per partition per run.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("check_name", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("column_name", sa.String(200)),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("observed", sa.JSON),
        sa.Column("threshold", sa.Text),
        sa.Column("failing_rows", sa.Integer),
        sa.Column("total_rows", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("sample", sa.JSON),
        sa.Column("checked_at", sa.Float, nullable=False),
    )
    op.create_index("ix_check_results_key", "check_results", ["project", "asset", "partition_key"])
    op.create_index("ix_check_results_run", "check_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("check_results")
