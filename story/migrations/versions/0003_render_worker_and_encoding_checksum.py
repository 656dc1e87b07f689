"""render worker identity, heartbeat, timings; encoding checksum

A running render names the process that claimed it (`worker_host`, `worker_pid`) and that
process refreshes `heartbeat_at`, so start-up recovery fails only jobs whose worker is really
gone. `timings` keeps a finished render's stage durations (ms). `subject_encodings.sha256`
is the checksum of the cached tensor file, so a damaged file is re-encoded ('' = unknown).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timings', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('worker_host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('worker_pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('subject_encodings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sha256', sa.String(length=64), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('subject_encodings', schema=None) as batch_op:
        batch_op.drop_column('sha256')

    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('worker_pid')
        batch_op.drop_column('worker_host')
        batch_op.drop_column('timings')
