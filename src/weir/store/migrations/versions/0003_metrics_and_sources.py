"""Profile metrics as time series, per-partition sketches, fixed histogram bins, and the state of
checked source partitions.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_points",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("column_name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("run_id", sa.String(40)),
        sa.Column("quarantined", sa.Boolean, nullable=False),
        sa.Column("measured_at", sa.Float, nullable=False),
    )
    op.create_index("ix_metric_points_series", "metric_points", ["project", "asset", "metric", "column_name", "partition_key"])
    op.create_index("ix_metric_points_key", "metric_points", ["project", "asset", "partition_key"])
    op.create_table(
        "profiles",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("partition_key", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(40)),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("sampled_rows", sa.Integer),
        sa.Column("quarantined", sa.Boolean, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("sketches", sa.JSON, nullable=False),
        sa.Column("measured_at", sa.Float, nullable=False),
    )
    op.create_table(
        "histogram_bins",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("column_name", sa.String(200), primary_key=True),
        sa.Column("edges", sa.JSON, nullable=False),
        sa.Column("fixed_by", sa.String(64)),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "source_partitions",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("partition_key", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("row_count", sa.Integer),
        sa.Column("malformed_rows", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("sample", sa.JSON),
        sa.Column("run_id", sa.String(40)),
        sa.Column("checked_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("source_partitions", "histogram_bins", "profiles", "metric_points"):
        op.drop_table(table)
