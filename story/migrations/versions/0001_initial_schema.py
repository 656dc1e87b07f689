"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('style', sa.String(length=100), nullable=False),
    sa.Column('page_settings', sa.JSON(), nullable=False),
    sa.Column('render_defaults', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name_key', name=op.f('uq_projects_name_key'))
    )
    op.create_table('characters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_characters_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_characters')),
    sa.UniqueConstraint('project_id', 'alias', name=op.f('uq_characters_project_id_alias')),
    sa.UniqueConstraint('project_id', 'name_key', name=op.f('uq_characters_project_id_name_key'))
    )
    op.create_table('panels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('overrides', sa.JSON(), nullable=False),
    sa.Column('selected_render_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_panels_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['selected_render_id'], ['renders.id'], name=op.f('fk_panels_selected_render_id_renders'), ondelete='SET NULL', use_alter=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panels'))
    )
    with op.batch_alter_table('panels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panels_project_id_position'), ['project_id', 'position'], unique=False)

    op.create_table('balloons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('speaker_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['panel_id'], ['panels.id'], name=op.f('fk_balloons_panel_id_panels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['speaker_id'], ['characters.id'], name=op.f('fk_balloons_speaker_id_characters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balloons'))
    )
    with op.batch_alter_table('balloons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_balloons_panel_id'), ['panel_id'], unique=False)

    op.create_table('character_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=False),
    sa.Column('mask_hash', sa.String(length=64), nullable=False),
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('subject_mask_hash', sa.String(length=64), nullable=False),
    sa.Column('segmenter', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_character_images_character_id_characters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_character_images')),
    sa.UniqueConstraint('character_id', 'position', name=op.f('uq_character_images_character_id_position'))
    )
    op.create_table('panel_characters',
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('box', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_panel_characters_character_id_characters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['panel_id'], ['panels.id'], name=op.f('fk_panel_characters_panel_id_panels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('panel_id', 'character_id', name=op.f('pk_panel_characters'))
    )
    with op.batch_alter_table('panel_characters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_characters_character_id'), ['character_id'], unique=False)

    op.create_table('renders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('engine', sa.String(length=50), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('image_hash', sa.String(length=64), nullable=True),
    sa.Column('progress', sa.Double(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['panel_id'], ['panels.id'], name=op.f('fk_renders_panel_id_panels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_renders'))
    )
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renders_panel_id'), ['panel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_renders_status_id'), ['status', 'id'], unique=False)

    op.create_table('subject_encodings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('character_version', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('file', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_subject_encodings_character_id_characters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject_encodings')),
    sa.UniqueConstraint('character_id', 'character_version', 'fingerprint', name=op.f('uq_subject_encodings_character_id_character_version_fingerprint'))
    )


def downgrade() -> None:
    op.drop_table('subject_encodings')
    with op.batch_alter_table('renders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renders_status_id'))
        batch_op.drop_index(batch_op.f('ix_renders_panel_id'))

    op.drop_table('renders')
    with op.batch_alter_table('panel_characters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_characters_character_id'))

    op.drop_table('panel_characters')
    op.drop_table('character_images')
    with op.batch_alter_table('balloons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_balloons_panel_id'))

    op.drop_table('balloons')
    with op.batch_alter_table('panels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panels_project_id_position'))

    op.drop_table('panels')
    op.drop_table('characters')
    op.drop_table('projects')
