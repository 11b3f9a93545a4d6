"""Metric points keep the model that drew their expected value and limits.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.add_column(sa.Column("model", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.drop_column("model")
