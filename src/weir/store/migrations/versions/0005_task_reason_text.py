"""Task reasons hold whole messages (a blocked source's or several failed checks'), not 200 characters.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_tasks") as batch:
        batch.alter_column("reason", type_=sa.Text, existing_type=sa.String(200))


def downgrade() -> None:
    with op.batch_alter_table("run_tasks") as batch:
        batch.alter_column("reason", type_=sa.String(200), existing_type=sa.Text)
