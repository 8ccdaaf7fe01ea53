"""`hrss user …`: accounts from the command line (the first administrator, resets).

The root `hrss` app registers `user_app` and sets ctx.obj to its Context (with
`.ready()`, `.engine`, `.settings`); commands reach it through ctx.find_root().obj.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hrss.audit.service import Origin

user_app = typer.Typer(help="用户 (user accounts).", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


def _root(ctx: typer.Context) -> Any:
    return ctx.find_root().obj


def cli_origin() -> Origin:
    """The command line as an audit actor: 'cli:<OS user>'."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        who = "unknown"
    return Origin(user_name=f"cli:{who}")


def _fail(message: str) -> None:
    err.print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(1)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="用户名 (user name)")],
    role: Annotated[str, typer.Option("--role", help="city_admin | city_statistician | district_operator | leader | auditor | security_admin")],
    org_unit: Annotated[str | None, typer.Option("--org-unit", help="所属组织单位，填报员必填（县区、市直或徐州市） (org unit; district_operator only)")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name", help="姓名 (display name); default: the user name")] = None,
) -> None:
    """创建用户并显示一次性密码 (create a user; prints a one-time password once)."""
    from hrss.auth.roles import needs_second_factor, role_label
    from hrss.auth.service import AccountError, create_user
    from hrss.db import transaction

    c = _root(ctx)
    plan = c.ready()
    try:
        with transaction(c.engine) as session:
            user, password = create_user(
                session, username=username, display_name=display_name, role=role, org_unit=org_unit,
                plan=plan, settings=c.settings, origin=cli_origin(),
            )
    except AccountError as exc:
        for p in exc.problems:
            err.print(p, highlight=False)
        _fail("未创建用户 (user not created)")
    unit = f" — {user.org_unit}" if user.org_unit else ""
    out.print(f"已创建用户 (user created): {user.username} [{role_label(user.role)}]{unit}", highlight=False)
    out.print(f"一次性密码，仅显示这一次 (one-time password, shown only now): {password}", highlight=False, soft_wrap=True)
    out.print("首次登录时必须修改密码 (it must be changed at the first sign-in)")
    if needs_second_factor(user.role):
        out.print("该角色首次登录时还须绑定动态口令 (this role also sets up a TOTP second factor at the first sign-in)")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """列出用户 (list users; no password data; ID and mobile numbers in names masked)."""
    from hrss.audit.service import local_time, utcnow
    from hrss.auth.mfa import enrolled_user_ids
    from hrss.auth.roles import needs_second_factor, role_label
    from hrss.auth.service import list_users, password_expired
    from hrss.auth.throttle import latest_blocks
    from hrss.db import session_factory
    from hrss.ledgers.masking import mask_text

    c = _root(ctx)
    c.ready()
    now = utcnow()
    table = Table(title="用户 (users)")
    for col in ("用户名", "姓名", "角色", "组织单位", "状态", "创建时间"):
        table.add_column(col)
    with session_factory(c.engine)() as session:
        users = list_users(session)
        blocks = latest_blocks(session, [u.username for u in users], now)
        enrolled = enrolled_user_ids(session)
        for u in users:
            state = []
            if not u.is_active:
                state.append("停用")
            if u.username in blocks:
                state.append("登录受限")
            if u.must_change_password:
                state.append("须改密码")
            elif password_expired(u, c.settings, now):
                state.append("密码过期")
            if needs_second_factor(u.role) and u.id not in enrolled:
                state.append("未绑定动态口令")
            table.add_row(u.username, Text(mask_text(u.display_name)), role_label(u.role), u.org_unit or "-",
                          "、".join(state) or "正常", local_time(u.created_at)[:16])
    out.print(table)
    out.print(f"共 {len(users)} 个用户 (users)")


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="用户名 (user name)")],
) -> None:
    """重置密码并解除登录限制，显示新的一次性密码 (reset to a one-time password, clear sign-in throttling)."""
    from hrss.auth.service import get_user, reset_password
    from hrss.db import transaction

    c = _root(ctx)
    c.ready()
    with transaction(c.engine) as session:
        user = get_user(session, username)
        if user is None:
            _fail(f"没有这个用户 (no such user): {username}")
        assert user is not None
        password = reset_password(session, user, settings=c.settings, origin=cli_origin())
    out.print(f"已重置密码 (password reset): {user.username}", highlight=False)
    out.print(f"一次性密码，仅显示这一次 (one-time password, shown only now): {password}", highlight=False, soft_wrap=True)


@user_app.command("reset-mfa")
def user_reset_mfa(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="用户名 (user name)")],
) -> None:
    """重置双因素：清除动态口令和恢复码并结束该账户的全部会话，下次登录时重新绑定
    (clear the TOTP enrolment and recovery codes, end the account's sessions: it enrols again at the next sign-in)."""
    from hrss.auth.mfa import reset_mfa
    from hrss.db import transaction

    c = _root(ctx)
    c.ready()
    with transaction(c.engine) as session:
        user = _user_or_fail(session, username)
        was = reset_mfa(session, user, origin=cli_origin())
    state = "已清除原有绑定 (the enrolment was cleared)" if was else "原本未绑定 (no enrolment to clear)"
    out.print(f"已重置双因素 (second factor reset): {user.username} — {state}；会话已全部结束 (sessions ended)", highlight=False)
    out.print("下次登录时须重新绑定动态口令 (it sets up a new TOTP second factor at the next sign-in)")


token_app = typer.Typer(help="API 令牌 (API tokens of an account).", no_args_is_help=True)
user_app.add_typer(token_app, name="token")


def _user_or_fail(session: Any, username: str) -> Any:
    from hrss.auth.service import get_user

    user = get_user(session, username)
    if user is None:
        _fail(f"没有这个用户 (no such user): {username}")
    return user


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="用户名 (user name)")],
    name: Annotated[str, typer.Option("--name", help="令牌用途，如「丰县业务系统」 (what the token is for)")],
) -> None:
    """新建 API 令牌，仅显示一次 (a new API token, shown once)."""
    from hrss.auth.service import AccountError, create_api_token
    from hrss.db import transaction

    c = _root(ctx)
    c.ready()
    with transaction(c.engine) as session:
        user = _user_or_fail(session, username)
        try:
            token = create_api_token(session, user, name, origin=cli_origin())
        except AccountError as exc:
            _fail("；".join(exc.problems))
    out.print(f"已为 {user.username} 新建令牌 (token created): {name}", highlight=False)
    out.print(f"令牌，仅显示这一次 (token, shown only now): {token}", highlight=False, soft_wrap=True)


@token_app.command("list")
def token_list(ctx: typer.Context, username: Annotated[str, typer.Argument(help="用户名 (user name)")]) -> None:
    """列出账户的令牌（不显示令牌本身） (the account's tokens, never the secret)."""
    from hrss.audit.service import local_time
    from hrss.auth.service import list_api_tokens
    from hrss.db import transaction

    c = _root(ctx)
    c.ready()
    with transaction(c.engine) as session:
        user = _user_or_fail(session, username)
        tokens = list_api_tokens(session, user)
        table = Table("编号 id", "用途 name", "创建 created", "最近使用 last used", "状态 state")
        for t in tokens:
            table.add_row(str(t.id), t.name, local_time(t.created_at)[:16],
                          local_time(t.last_used_at)[:16] if t.last_used_at else "—", "已撤销 revoked" if t.revoked else "有效 valid")
    out.print(table)
    out.print(f"共 {len(tokens)} 个令牌 (tokens)")


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="令牌编号 (token id, from list)")]) -> None:
    """撤销令牌 (revoke a token for good)."""
    from hrss.auth.service import revoke_api_token
    from hrss.db import transaction

    c = _root(ctx)
    c.ready()
    with transaction(c.engine) as session:
        done = revoke_api_token(session, token_id, origin=cli_origin())
    if not done:
        _fail(f"没有这个有效令牌 (no such live token): {token_id}")
    out.print(f"已撤销令牌 (revoked): {token_id}")
