"""render likeness, region redo, kept latents

`likeness` holds a finished render's likeness report (per character score in [0, 1], the
region x reference similarities, blend flags). A region redo records its `parent_render_id`
(the render it redid, always of the same panel) and `region_hash` (the painted
region, a mask PNG in the asset store). `latents_hash` is a latent-space engine's final
latents kept as a PNG asset, so a region of the render can be redone later.

`parent_render_id` is a plain column, not a foreign key: SQLite adds a foreign key only by
rebuilding the table, and dropping the old `renders` (foreign keys on, inside the migration's
transaction) would set every panel's selected render to NULL. Renders are deleted only with
their panel, parent and redo together, so the id never dangles.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('likeness', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('parent_render_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('region_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('latents_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.drop_column('latents_hash')
        batch_op.drop_column('region_hash')
        batch_op.drop_column('parent_render_id')
        batch_op.drop_column('likeness')
