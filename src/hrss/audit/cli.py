"""`hrss audit …`: verify the hash chain and show recent events.

There is no command that deletes events, and the database refuses UPDATE and DELETE on
the audit table (append-only triggers): every event is kept at least the 180 days that
等保三级 asks for — in fact for as long as the store (see docs/ARCHITECTURE.md). `show`
masks ID and mobile numbers like the web page; there is no unmasked mode (no role has a
right to raw personal data in the trail, and an operator with the database has it anyway).

The root `hrss` app registers `audit_app` and sets ctx.obj to its Context (with
`.ready()`, `.engine`, `.settings`); commands reach it through ctx.find_root().obj.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

audit_app = typer.Typer(help="审计日志 (the audit trail).", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """校验审计链 (verify the hash chain); exits 1 on any break."""
    from hrss.audit.service import count_events, head_hash, verify
    from hrss.db import session_factory

    c = ctx.find_root().obj
    c.ready()
    with session_factory(c.engine)() as session:
        problems = verify(session)
        count = count_events(session)
        last = head_hash(session)
    for p in problems:
        err.print(p, highlight=False)
    if problems:
        err.print(f"[red]审计链校验失败，发现 {len(problems)} 处问题 (audit chain broken: {len(problems)} problems)[/red]",
                  highlight=False)
        raise typer.Exit(1)
    out.print(f"审计链校验通过 (audit chain verified): {count} 条", highlight=False)
    out.print(f"链头哈希 (head hash): {last}", highlight=False, soft_wrap=True)


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="条数 (how many, newest first)")] = 20,
) -> None:
    """显示最近的审计记录 (show the newest audit events; personal data masked, as on the web)."""
    from hrss.audit.service import ACTION_LABELS, recent_events
    from hrss.db import session_factory

    c = ctx.find_root().obj
    c.ready()
    table = Table(title="审计日志 (audit events), 最新在前 (newest first)")
    for col in ("序号", "时间 (北京时间)", "操作人", "操作", "对象", "变更前", "变更后", "来源地址"):
        table.add_column(col)
    with session_factory(c.engine)() as session:
        events = recent_events(session, limit)
        for e in events:
            obj = f"{e.object_type}#{e.object_id}" if e.object_id else e.object_type
            cells = (str(e.id), e.at_local, e.user_name, f"{ACTION_LABELS.get(e.action, '')} {e.action}".strip(), obj,
                     _shown(e.before), _shown(e.after), e.client_addr or "")
            table.add_row(*(Text(cell) for cell in cells))  # as text: a comment's "[/x]" is no markup
    out.print(table, highlight=False)
    out.print(f"显示 {len(events)} 条 (events shown)；身份证号与手机号已脱敏 (ID and mobile numbers masked)")


def _shown(stored: str | None) -> str:
    """A before/after value as the audit page shows it: masked (hrss.ledgers.masking), as JSON."""
    import json

    from hrss.ledgers.masking import mask_json_text

    value = mask_json_text(stored)
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
