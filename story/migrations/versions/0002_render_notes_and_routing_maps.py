"""render notes and routing maps

Renders get `notes` (what the user should know, e.g. a character left out) and
`routing_maps_hash` (the per-subject placement maps kept with the render).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('routing_maps_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.drop_column('routing_maps_hash')
        batch_op.drop_column('notes')

