"""Incidents keep their cause, their scope (every partition built under it, and whether each was
rebuilt good) and their diagnosis as told at each change.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("cause", sa.JSON))
    with op.batch_alter_table("incident_members") as batch:
        batch.add_column(sa.Column("series", sa.String(300)))
    op.create_table(
        "incident_scope",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("version", sa.String(200)),
        sa.Column("why", sa.Text, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("fixed_run_id", sa.String(40)),
        sa.Column("fixed_at", sa.Float),
        sa.UniqueConstraint("incident_id", "asset", "partition_key", name="uq_incident_scope"),
    )
    op.create_index("ix_incident_scope_asset", "incident_scope", ["asset", "partition_key"])
    op.create_table(
        "incident_diagnoses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("diagnosis", sa.JSON, nullable=False),
    )
    op.create_index("ix_incident_diagnoses_incident", "incident_diagnoses", ["incident_id"])


def downgrade() -> None:
    op.drop_table("incident_diagnoses")
    op.drop_table("incident_scope")
    with op.batch_alter_table("incident_members") as batch:
        batch.drop_column("series")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("cause")
