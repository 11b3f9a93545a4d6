"""Initial schema: environments, runs, run tasks, partitions and their versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("python", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("packages", sa.JSON, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("host", sa.String(200)),
        sa.Column("pid", sa.Integer),
        sa.Column("environment_id", sa.String(64)),
        sa.Column("request", sa.JSON),
        sa.Column("summary", sa.JSON),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_index("ix_runs_created", "runs", ["created_at"])
    op.create_table(
        "run_tasks",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("partition_key", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("code_version", sa.String(32)),
        sa.Column("input_versions", sa.JSON),
        sa.Column("output_version", sa.Integer),
        sa.Column("row_count", sa.Integer),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("seconds", sa.Float),
        sa.Column("staged_path", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("traceback", sa.Text),
    )
    op.create_index("ix_run_tasks_asset", "run_tasks", ["project", "asset", "partition_key"])
    op.create_table(
        "partitions",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("partition_key", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("code_version", sa.String(32), nullable=False),
        sa.Column("input_versions", sa.JSON),
        sa.Column("row_count", sa.Integer),
        sa.Column("published_at", sa.Float, nullable=False),
    )
    op.create_table(
        "partition_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("code_version", sa.String(32), nullable=False),
        sa.Column("row_count", sa.Integer),
        sa.Column("published_at", sa.Float, nullable=False),
    )
    op.create_index("ix_partition_versions_key", "partition_versions", ["project", "asset", "partition_key"])


def downgrade() -> None:
    for table in ("partition_versions", "partitions", "run_tasks", "runs", "environments"):
        op.drop_table(table)
