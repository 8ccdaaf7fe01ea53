"""Demo accounts (演示账户) for `hrss serve --demo`: one per role, with one-time passwords.

Never used outside --demo. Each start gives every demo account a fresh one-time password
(printed once), which must be changed at first sign-in: there is no default password. The
privileged demo accounts (roles.MFA_ROLES) also lose their second factor at each start,
like their password, and set up a TOTP code again at the first sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hrss.audit.service import Origin
from hrss.auth.mfa import enrolment_of, reset_mfa
from hrss.auth.roles import Role, role_label
from hrss.auth.service import create_user, get_user, reset_password
from hrss.plan.model import Plan
from hrss.settings import Settings

DEMO_ACCOUNTS = (
    ("demo-admin", "演示·市级管理员", Role.CITY_ADMIN, None),
    ("demo-tongji", "演示·市统计审核员", Role.CITY_STATISTICIAN, None),
    ("demo-peixian", "演示·沛县填报员", Role.DISTRICT_OPERATOR, "沛县"),
    ("demo-shiji", "演示·市级填报员", Role.DISTRICT_OPERATOR, "徐州市"),
    ("demo-lingdao", "演示·领导", Role.LEADER, None),
    ("demo-shenji", "演示·审计员", Role.AUDITOR, None),
    ("demo-anquan", "演示·安全管理员", Role.SECURITY_ADMIN, None),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    org_unit: str | None
    password: str


def ensure_demo_accounts(session: Session, plan: Plan, settings: Settings) -> list[DemoAccount]:
    origin = Origin(user_name="cli:demo")
    out = []
    for username, display, role, unit in DEMO_ACCOUNTS:
        user = get_user(session, username)
        if user is None:
            user, password = create_user(session, username=username, display_name=display, role=role.value,
                                         org_unit=unit, plan=plan, settings=settings, origin=origin)
        else:
            password = reset_password(session, user, settings=settings, origin=origin)
            if enrolment_of(session, user) is not None:
                reset_mfa(session, user, origin=origin)
        out.append(DemoAccount(username, role_label(role.value), unit, password or ""))
    return out
