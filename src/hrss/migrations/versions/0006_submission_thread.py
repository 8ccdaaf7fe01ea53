"""submission thread and four eyes

`submission.saved_by` and `submission.submitted_by` name the accounts that last saved and
handed in a submission's figures (neither may approve them); `submission_comment` keeps
every step's comment (the operator's 报送说明 beside the reviewer's 审核意见). Existing
comments become the thread's first entry.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submission') as batch:
        batch.add_column(sa.Column('saved_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('submitted_by', sa.String(length=100), nullable=True))
    op.create_table('submission_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('author_role', sa.String(length=30), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_submission_comment_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_comment'))
    )
    op.create_index(op.f('ix_submission_comment_submission_id'), 'submission_comment', ['submission_id'], unique=False)
    op.execute(
        "INSERT INTO submission_comment (submission_id, created_at, author, author_role, action, text) "
        "SELECT id, updated_at, updated_by, '', status, comment FROM submission WHERE comment <> ''"
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_submission_comment_submission_id'), table_name='submission_comment')
    op.drop_table('submission_comment')
    with op.batch_alter_table('submission') as batch:
        batch.drop_column('submitted_by')
        batch.drop_column('saved_by')
