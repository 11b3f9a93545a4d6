"""Who did it: a baseline reset (``weir monitors accept``) keeps its actor, and an alert sent
again by hand (``weir alerts retry``) keeps who asked. Rows from before have none.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("baseline_resets") as batch:
        batch.add_column(sa.Column("actor", sa.String(200)))
    with op.batch_alter_table("alert_outbox") as batch:
        batch.add_column(sa.Column("retried_by", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.drop_column("retried_by")
    with op.batch_alter_table("baseline_resets") as batch:
        batch.drop_column("actor")
