"""Environments that can be rebuilt: where each distribution came from, the interpreter, weir's version.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("origins", sa.JSON))
        batch.add_column(sa.Column("interpreter", sa.Text))
        batch.add_column(sa.Column("base_interpreter", sa.Text))
        batch.add_column(sa.Column("weir_version", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        for column in ("weir_version", "base_interpreter", "interpreter", "origins"):
            batch.drop_column(column)
