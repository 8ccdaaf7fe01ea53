"""submission thread and four eyes

`submission.saved_by` and `submission.submitted_by` name the accounts that last saved and
handed in a submission's figures (neither may approve them); `submission_comment` keeps
every step's comment (the operator's 报送说明 beside the reviewer's 审核意见).

Existing submissions get both from the audit trail, which has every step with its actor
and comment: the thread is rebuilt step by step (author and role as recorded), saved_by
and submitted_by are the last actors of value.saved and submission.submitted. A submission
without audited steps keeps its last comment as one entry by its last actor.

Revision ID: 0006
Revises: 0005
"""

import json

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
    _from_audit_trail()


STEPS = {"submission.submitted": "submitted", "submission.approve": "approved",
         "submission.return": "returned", "submission.reopen": "reopened"}


def _from_audit_trail() -> None:
    conn = op.get_bind()
    roles = dict(conn.execute(sa.text("SELECT id, role FROM app_user")).all())
    events = conn.execute(sa.text(
        "SELECT object_id, action, at, user_id, user_name, after FROM audit_event "
        "WHERE object_type = 'submission' AND action IN "
        "('value.saved', 'submission.submitted', 'submission.approve', 'submission.return', 'submission.reopen') "
        "ORDER BY id")).all()
    comments, actors, stepped = [], {}, set()
    for object_id, action, at, user_id, user_name, after in events:
        sub_id = int(object_id)
        if action == "value.saved":
            actors.setdefault(sub_id, {})["saved_by"] = user_name
            continue
        if action == "submission.submitted":
            actors.setdefault(sub_id, {})["submitted_by"] = user_name
        text = str(json.loads(after or "{}").get("comment") or "")[:1000]
        comments.append({"submission_id": sub_id, "created_at": at, "author": user_name,
                         "author_role": roles.get(user_id, ""), "action": STEPS[action], "text": text})
        stepped.add(sub_id)
    known = {row[0] for row in conn.execute(sa.text("SELECT id FROM submission")).all()}
    comments = [c for c in comments if c["submission_id"] in known]
    comments += [
        {"submission_id": sub_id, "created_at": at, "author": by, "author_role": "", "action": status, "text": text}
        for sub_id, at, by, status, text in conn.execute(sa.text(
            "SELECT id, updated_at, updated_by, status, comment FROM submission WHERE comment <> ''")).all()
        if sub_id not in stepped
    ]
    if comments:
        conn.execute(sa.text(
            "INSERT INTO submission_comment (submission_id, created_at, author, author_role, action, text) "
            "VALUES (:submission_id, :created_at, :author, :author_role, :action, :text)"), comments)
    for sub_id, who in actors.items():
        if sub_id in known:
            conn.execute(sa.text("UPDATE submission SET saved_by = :saved_by, submitted_by = :submitted_by "
                                 "WHERE id = :id"),
                         {"id": sub_id, "saved_by": who.get("saved_by"), "submitted_by": who.get("submitted_by")})


def downgrade() -> None:
    op.drop_index(op.f('ix_submission_comment_submission_id'), table_name='submission_comment')
    op.drop_table('submission_comment')
    with op.batch_alter_table('submission') as batch:
        batch.drop_column('submitted_by')
        batch.drop_column('saved_by')
