"""Deployments: a version of a project at a code location, one active per project; every run
records the deployment that made it and who started it. A project already registered to a folder
becomes that folder's active deployment.

Revision ID: 0020
Revises: 0019
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("activated_at", sa.Float),
        sa.Column("actor", sa.String(200)),
        sa.UniqueConstraint("project", "digest", "location", name="uq_deployments_version"),
    )
    op.create_index("ix_deployments_project", "deployments", ["project", "active"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer))
        batch.add_column(sa.Column("actor", sa.String(200)))
    rows = op.get_bind().execute(sa.text("SELECT name, root, registered_at FROM projects")).fetchall()
    if rows:
        now = time.time()
        op.bulk_insert(table, [{"project": r[0], "digest": "before-deployments", "location": r[1], "kind": "folder",
                                "active": True, "created_at": r[2] or now, "activated_at": r[2] or now,
                                "actor": None} for r in rows])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("actor")
        batch.drop_column("deployment_id")
    op.drop_table("deployments")
