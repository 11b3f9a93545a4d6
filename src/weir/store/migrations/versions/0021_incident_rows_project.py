"""An incident's members and scope rows carry their project: in the store an asset is
(project, asset). Existing rows take their incident's project.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_TABLES = ("incident_members", "incident_scope")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("project", sa.String(200)))
        op.execute(f"UPDATE {table} SET project = (SELECT incidents.project FROM incidents "
                   f"WHERE incidents.id = {table}.incident_id)")
        op.execute(f"UPDATE {table} SET project = '' WHERE project IS NULL")  # an incident since deleted
        with op.batch_alter_table(table) as batch:
            batch.alter_column("project", existing_type=sa.String(200), nullable=False)
    op.drop_index("ix_incident_scope_asset", table_name="incident_scope")
    op.create_index("ix_incident_scope_asset", "incident_scope", ["project", "asset", "partition_key"])


def downgrade() -> None:
    op.drop_index("ix_incident_scope_asset", table_name="incident_scope")
    op.create_index("ix_incident_scope_asset", "incident_scope", ["asset", "partition_key"])
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("project")
