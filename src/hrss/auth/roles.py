"""Roles (角色) and what each may do, kept as data: role → {action: scope}.

Scope ALL means any org unit (组织单位); OWN means only the user's own org unit. Every
check goes through `can`, and queries narrow themselves with `restrict_org_units` or
`org_unit_clause` instead of `if user.role == …` in routes.

Decisions:
- "view" is approved (审核通过) data, which everyone signed in may see. Unapproved data
  ("view_unapproved") is for the people who enter and review it: city_admin and
  city_statistician for every unit, a district_operator for its own unit. Leaders see
  approved figures only, so that no unreviewed number reaches a leader's desk.
- "export" follows "view": every role but the auditor may export what it may view. The
  auditor (审计员) reads the audit log and the approved data, and exports nothing.
- "generate_reports" writes the report files everyone downloads, replacing the month's
  earlier ones: a city role's act, not a reader's. Leaders and operators download only.
- "submit" (报送) belongs to the operator (填报员) of a unit: a district's, 市直's, or the
  city's own for the indicators only the city reports. The city roles review, and never
  approve figures their own account entered or submitted (four eyes, see workflow.decide).
- Separation of duties (三权分立, 等保三级 8.1.4.2 / 8.1.10): three administrators, each a
  role of its own, and an account holds exactly one role (`app_user.role` is one value:
  no account can be two of them at once).
  - The system administrator (系统管理员, city_admin) runs the plan, the data, the reports
    and the system settings. It no longer manages accounts, and no longer reads the audit
    log: the trail of its own acts is the auditor's to read. It keeps a read-only sight of
    the accounts ("view_users": who holds which role and unit, enabled or not), which it
    needs to know whom a unit's figures come from; it changes nothing there.
  - The security administrator (安全管理员, security_admin) manages the accounts: creates
    them, changes roles and units, enables and disables, resets passwords and second
    factors, creates and revokes API tokens. It sees the approved data as everyone signed
    in does, and enters, reviews, exports and audits nothing. No one changes their own
    role or disables themselves (web/admin.py); the first security administrator comes
    from the command line (`hrss user create --role security_admin`).
  - The auditor (审计员, auditor) reads the audit log, and the approved data as everyone.
- The privileged roles (MFA_ROLES: the three administrators and the city statistician,
  who approves every figure) sign in with a second factor, a TOTP code (hrss.auth.mfa;
  等保三级 8.1.4.1 d: two factors, one of them cryptographic).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, false, true


class Role(StrEnum):
    CITY_ADMIN = "city_admin"  # 市级管理员: the system administrator (系统管理员)
    CITY_STATISTICIAN = "city_statistician"  # 市统计审核员
    DISTRICT_OPERATOR = "district_operator"  # 填报员: bound to one reporting unit (a district, 市直 or the city itself)
    LEADER = "leader"  # 领导: read-only, all units
    AUDITOR = "auditor"  # 审计员: reads the audit log
    SECURITY_ADMIN = "security_admin"  # 安全管理员: accounts, roles, password/MFA resets, tokens


ROLE_LABELS: dict[Role, str] = {
    Role.CITY_ADMIN: "市级管理员",
    Role.CITY_STATISTICIAN: "市统计审核员",
    Role.DISTRICT_OPERATOR: "填报员",
    Role.LEADER: "领导",
    Role.AUDITOR: "审计员",
    Role.SECURITY_ADMIN: "安全管理员",
}

# Roles that sign in with a second factor (TOTP, hrss.auth.mfa) after the password.
MFA_ROLES = frozenset({Role.CITY_ADMIN, Role.CITY_STATISTICIAN, Role.AUDITOR, Role.SECURITY_ADMIN})


def needs_second_factor(role: str) -> bool:
    """Does an account of this role sign in with a TOTP code as well? (An unknown role: yes.)"""
    try:
        return Role(role) in MFA_ROLES
    except ValueError:
        return True


def role_label(role: str) -> str:
    """The Chinese label of a role value (the value itself when unknown)."""
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


class Action(StrEnum):
    VIEW = "view"  # approved data, dashboards, reports
    VIEW_UNAPPROVED = "view_unapproved"  # data not yet approved (填报中/待审核)
    ENTER = "enter"  # 填报: enter or import values
    SUBMIT = "submit"  # 报送: hand entered values in for review
    REVIEW = "review"  # 审核: approve or return
    REOPEN = "reopen"  # 退回重填: reopen approved values
    MANAGE_USERS = "manage_users"  # create accounts, change roles, resets, tokens
    VIEW_USERS = "view_users"  # the account list and pages, read only
    READ_AUDIT = "read_audit"
    EXPORT = "export"
    GENERATE_REPORTS = "generate_reports"  # 生成报告: write the monthly/mid-term/final files for everyone


ACTION_LABELS: dict[Action, str] = {
    Action.VIEW: "查看",
    Action.VIEW_UNAPPROVED: "查看未审核数据",
    Action.ENTER: "填报",
    Action.SUBMIT: "报送",
    Action.REVIEW: "审核",
    Action.REOPEN: "退回重填",
    Action.MANAGE_USERS: "用户管理",
    Action.VIEW_USERS: "查看用户",
    Action.READ_AUDIT: "查看审计日志",
    Action.EXPORT: "导出",
    Action.GENERATE_REPORTS: "生成报告",
}


class Scope(StrEnum):
    ALL = "all"  # every org unit
    OWN = "own"  # the user's own org unit only


ALL, OWN = Scope.ALL, Scope.OWN

PERMISSIONS: dict[Role, dict[Action, Scope]] = {
    Role.CITY_ADMIN: {
        Action.VIEW: ALL, Action.VIEW_UNAPPROVED: ALL, Action.ENTER: ALL, Action.REVIEW: ALL,
        Action.REOPEN: ALL, Action.VIEW_USERS: ALL, Action.EXPORT: ALL, Action.GENERATE_REPORTS: ALL,
    },
    Role.CITY_STATISTICIAN: {
        Action.VIEW: ALL, Action.VIEW_UNAPPROVED: ALL, Action.ENTER: ALL, Action.REVIEW: ALL,
        Action.REOPEN: ALL, Action.EXPORT: ALL, Action.GENERATE_REPORTS: ALL,
    },
    Role.DISTRICT_OPERATOR: {
        Action.VIEW: ALL, Action.VIEW_UNAPPROVED: OWN, Action.ENTER: OWN, Action.SUBMIT: OWN,
        Action.EXPORT: ALL,
    },
    Role.LEADER: {Action.VIEW: ALL, Action.EXPORT: ALL},
    Role.AUDITOR: {Action.VIEW: ALL, Action.READ_AUDIT: ALL},
    Role.SECURITY_ADMIN: {Action.VIEW: ALL, Action.MANAGE_USERS: ALL, Action.VIEW_USERS: ALL},
}

SCOPED_ROLES = frozenset({Role.DISTRICT_OPERATOR})  # roles bound to one org unit


class UserLike(Protocol):
    """What permission checks read of a user (the `User` table row satisfies it)."""

    role: str
    org_unit: str | None
    is_active: bool


def _scope(user: UserLike | None, action: str) -> Scope | None:
    act = Action(action)  # an unknown action is a programming error: ValueError
    if user is None or not user.is_active:
        return None
    try:
        role = Role(user.role)
    except ValueError:
        return None
    return PERMISSIONS[role].get(act)


def can(user: UserLike | None, action: str, org_unit: str | None = None) -> bool:
    """May user do action (on org_unit's data)?

    For an action a role has on its own unit only, org_unit must be given and be the
    user's unit; without org_unit the answer is False (ask `actions_for` for menus).
    """
    scope = _scope(user, action)
    if scope is Scope.ALL:
        return True
    if scope is Scope.OWN:
        assert user is not None
        return org_unit is not None and user.org_unit is not None and org_unit == user.org_unit
    return False


def can_view_unapproved(user: UserLike | None, org_unit: str) -> bool:
    return can(user, Action.VIEW_UNAPPROVED, org_unit)


def actions_for(user: UserLike | None) -> frozenset[Action]:
    """Every action user may do on at least one org unit (for menus and buttons)."""
    return frozenset(a for a in Action if _scope(user, a) is not None)


def restrict_org_units(user: UserLike | None, names: Iterable[str], action: str = Action.VIEW_UNAPPROVED) -> list[str]:
    """The names (in their order) whose unapproved data (or: action) user may see."""
    scope = _scope(user, action)
    if scope is Scope.ALL:
        return list(names)
    if scope is Scope.OWN:
        assert user is not None
        return [n for n in names if n == user.org_unit]
    return []


def org_unit_clause(user: UserLike | None, column: ColumnElement[str], action: str = Action.VIEW_UNAPPROVED) -> ColumnElement[bool]:
    """A WHERE clause limiting a select on an org-unit column to what user may see."""
    scope = _scope(user, action)
    if scope is Scope.ALL:
        return true()
    if scope is Scope.OWN and user is not None and user.org_unit is not None:
        return column == user.org_unit
    return false()
