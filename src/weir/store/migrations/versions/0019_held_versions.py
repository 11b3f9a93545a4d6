"""Versions of published partitions built, checked and staged under changed code or
configuration but held back from publishing until approved ([run] republish = "hold").

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_versions",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("partition_key", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("code_version", sa.String(32), nullable=False),
        sa.Column("configuration_id", sa.String(64)),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("staged_path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("input_versions", sa.JSON),
        sa.Column("replaces", sa.JSON, nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("change", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON),
        sa.Column("held_at", sa.Float, nullable=False),
    )
    op.create_index("ix_held_versions_run", "held_versions", ["run_id"])


def downgrade() -> None:
    op.drop_table("held_versions")
