"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import weighbridge.db.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('objects',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_account_id'), ['account_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.String(length=32), nullable=False),
    sa.Column('percentage', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_msg', sa.String(length=2048), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)

    op.create_table('models',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_adapter', sa.Boolean(), nullable=False),
    sa.Column('base_model', sa.String(length=512), nullable=True),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('architecture', sa.String(length=255), nullable=True),
    sa.Column('model_type', sa.String(length=255), nullable=True),
    sa.Column('parameter_count', sa.BigInteger(), nullable=False),
    sa.Column('dtypes', sa.JSON(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('adapter', sa.JSON(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_account_id'), ['account_id'], unique=False)

    op.create_table('upload_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('file_context', sa.String(length=64), nullable=False),
    sa.Column('total_chunks', sa.Integer(), nullable=False),
    sa.Column('file_extension', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('is_adapter', sa.Boolean(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('chunk_size', sa.BigInteger(), nullable=True),
    sa.Column('base_model', sa.String(length=512), nullable=True),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('model_name', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('freed_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'idempotency_key')
    )
    with op.batch_alter_table('upload_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_sessions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upload_sessions_expires_on'), ['expires_on'], unique=False)

    op.create_table('chunks',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('chunk_number', sa.Integer(), nullable=False),
    sa.Column('blob_key', sa.String(length=512), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('received_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['upload_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'chunk_number')
    )
    op.create_table('model_files',
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sha256'], ['objects.sha256'], ),
    sa.PrimaryKeyConstraint('model_id', 'path')
    )
    with op.batch_alter_table('model_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_files_sha256'), ['sha256'], unique=False)

    op.create_table('stored_files',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_context', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_on', weighbridge.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['upload_sessions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id')
    )
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_files_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_files_account_id'))

    op.drop_table('stored_files')
    with op.batch_alter_table('model_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_files_sha256'))

    op.drop_table('model_files')
    op.drop_table('chunks')
    with op.batch_alter_table('upload_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_sessions_expires_on'))
        batch_op.drop_index(batch_op.f('ix_upload_sessions_account_id'))

    op.drop_table('upload_sessions')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_models_account_id'))

    op.drop_table('models')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_model_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_account_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_account_id'))

    op.drop_table('api_keys')
    op.drop_table('objects')
    op.drop_table('accounts')
