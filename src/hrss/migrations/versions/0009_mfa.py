"""second factor (TOTP) and sign-in state

`user_mfa` holds a user's TOTP secret (AES-GCM ciphertext; the key lives outside the
store, HRSS_MFA_KEY_FILE), when its enrolment was confirmed, and the time step of the
last code accepted (a code is good once). `mfa_recovery_code` holds sha256 of the
one-time recovery codes. `web_session.mfa_verified_at` says when the second factor
passed: a privileged account's session without it is only half signed in. Sessions
open at the upgrade have none, so privileged users enrol (or verify) on their next page.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_mfa',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_mfa_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_mfa'))
    )
    op.create_table('mfa_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_mfa_recovery_code_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_code'))
    )
    op.create_index(op.f('ix_mfa_recovery_code_user_id'), 'mfa_recovery_code', ['user_id'], unique=False)
    op.add_column('web_session', sa.Column('mfa_verified_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('web_session') as batch:
        batch.drop_column('mfa_verified_at')
    op.drop_index(op.f('ix_mfa_recovery_code_user_id'), table_name='mfa_recovery_code')
    op.drop_table('mfa_recovery_code')
    op.drop_table('user_mfa')
