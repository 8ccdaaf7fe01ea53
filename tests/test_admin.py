"""Administration pages: the audit log viewer (the auditor's) and user and role
administration (the security administrator's; the system administrator reads only)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from hrss.audit.service import record
from hrss.auth.service import create_api_token, create_user, get_user
from hrss.db import make_engine, transaction
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.admin import mask_json
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token, sign_in

USERS = [  # username, display name, role, org unit
    ("admin", "市级管理员", "city_admin", None),
    ("anquan", "安全管理员", "security_admin", None),
    ("shenji", "审计员", "auditor", None),
    ("lingdao", "领导", "leader", None),
    ("tongji", "统计员", "city_statistician", None),
    ("fengxian", "丰县填报员", "district_operator", "丰县"),
]


csrf = csrf_token


def shown_secret(page: Response, kind: str) -> str:
    found = re.search(rf'data-secret="{kind}">([^<]+)</code>', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


@pytest.fixture
def app(db_url: str) -> FastAPI:
    settings = Settings(database_url=db_url)
    engine = make_engine(db_url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        for username, display_name, role, org_unit in USERS:
            create_user(s, username=username, display_name=display_name, role=role, org_unit=org_unit,
                        plan=plan, settings=settings, password=PASSWORD)
    engine.dispose()
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_the_auditor_alone_reads_the_audit_log(client: TestClient) -> None:
    sign_in(client, "admin")
    sign_in(client, "shenji")
    page = client.get("/admin/audit")
    assert page.status_code == 200, page.text
    assert "审计链完整 (chain intact)" in page.text and 'data-action="auth.login"' in page.text
    assert "登录 <code>auth.login</code>" in page.text and page.headers["cache-control"] == "no-store"
    assert "绑定动态口令 <code>auth.mfa_enrolled</code>" in page.text  # the second factor's events are labelled
    mine = client.get("/admin/audit", params={"action": "auth.login", "user": "shenji"})
    assert mine.text.count("<tr data-action=") == 1 and "第 1 / 1 页，共 1 条" in mine.text
    assert "Audit chain intact" in client.get("/admin/audit", params={"lang": "en"}).text
    for name in ("admin", "anquan"):  # 三权分立: neither administrator reads the trail of its own acts
        sign_in(client, name)
        assert client.get("/admin/audit").status_code == 403
        assert client.get("/api/v1/audit").status_code == 403


@pytest.mark.parametrize("path", ["/admin/audit", "/api/v1/audit", "/admin/users", "/admin/users/tongji"])
def test_other_roles_are_refused(client: TestClient, path: str) -> None:
    refused = ["lingdao", "tongji", "fengxian"] + (["shenji"] if "users" in path else ["admin", "anquan"])
    for name in refused:
        sign_in(client, name)
        answer = client.get(path)
        assert answer.status_code == 403 and answer.json()["message_en"].startswith("not allowed: "), (name, path)
    client.cookies.clear()
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/admin/audit", follow_redirects=False).headers["location"] == "/login?next=%2Fadmin%2Faudit"


def test_the_system_administrator_sees_the_accounts_and_changes_nothing(client: TestClient) -> None:
    sign_in(client, "admin")
    listing = client.get("/admin/users")
    assert listing.status_code == 200 and 'data-user="tongji"' in listing.text and 'id="read-only"' in listing.text
    assert 'action="/admin/users"' not in listing.text and 'href="/admin/users"' in listing.text  # the menu link
    page = client.get("/admin/users/tongji")
    assert page.status_code == 200 and 'id="read-only"' in page.text and "<form method=\"post\" action=\"/admin" not in page.text
    for path, data in (("/admin/users", {"username": "x1", "role": "leader"}), ("/admin/users/tongji/role", {"role": "leader"}),
                       ("/admin/users/tongji/active", {"active": "0"}), ("/admin/users/tongji/password", {}),
                       ("/admin/users/tongji/mfa/reset", {}), ("/admin/users/tongji/tokens", {"name": "x"})):
        refused = client.post(path, data={**data, "csrf_token": csrf(page)})
        assert refused.status_code == 403 and refused.json()["message_en"].startswith("not allowed: manage_users"), path
        assert "请联系安全管理员" in refused.json()["message"]


def test_admin_creates_a_district_operator_whose_one_time_password_works(client: TestClient) -> None:
    sign_in(client, "anquan")
    form = client.get("/admin/users")
    assert form.status_code == 200 and 'data-user="fengxian"' in form.text and "丰县填报员" in form.text
    assert "$argon2" not in form.text
    assert '<option value="沛县">' in form.text and '<option value="主城区">' not in form.text
    assert '<option value="徐州市">' not in form.text
    created = client.post("/admin/users", data={"username": "peixian", "display_name": "沛县填报员",
                                                "role": "district_operator", "org_unit": "沛县", "csrf_token": csrf(form)})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    one_time = shown_secret(created, "one_time")
    assert "沛县" in created.text and client.get("/admin/users/peixian").text.count("data-secret") == 0  # shown once
    taken = client.post("/admin/users", data={"username": "peixian", "role": "leader", "csrf_token": csrf(form)})
    assert taken.status_code == 400 and "用户名已存在" in taken.text
    no_unit = client.post("/admin/users", data={"username": "nounit", "role": "district_operator", "org_unit": "",
                                                "csrf_token": csrf(form)})
    assert no_unit.status_code == 400 and "必须指定所属组织单位" in no_unit.text
    sign_in(client, "peixian", one_time)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/account/password"


def test_role_change_and_deactivation_are_audited(client: TestClient) -> None:
    sign_in(client, "anquan")
    page = client.get("/admin/users/tongji")
    changed = client.post("/admin/users/tongji/role", data={"role": "leader", "org_unit": "沛县", "csrf_token": csrf(page)},
                          follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"] == "/admin/users/tongji?done=1"
    bad = client.post("/admin/users/tongji/role", data={"role": "boss", "csrf_token": csrf(page)})
    assert bad.status_code == 400 and "未知角色" in bad.text
    off = client.post("/admin/users/lingdao/active", data={"active": "0", "csrf_token": csrf(page)}, follow_redirects=False)
    assert off.status_code == 303
    self_off = client.post("/admin/users/anquan/active", data={"active": "0", "csrf_token": csrf(page)})
    assert self_off.status_code == 400 and "不能停用自己的账户" in self_off.text
    self_role = client.post("/admin/users/anquan/role", data={"role": "auditor", "csrf_token": csrf(page)})
    assert self_role.status_code == 400 and "变更自己的角色" in self_role.text
    with client.app.state.sessions() as s:
        assert get_user(s, "anquan").role == "security_admin"
    sign_in(client, "shenji")  # the auditor reads what the security administrator did
    log = client.get("/api/v1/audit", params={"action": "user.role_changed"}).json()
    [event] = log["events"]
    assert event["user_name"] == "anquan" and event["action_label"] == "变更角色"
    assert event["before"] == {"role": "city_statistician", "org_unit": None}
    assert event["after"] == {"role": "leader", "org_unit": None}  # the org unit is for district operators only
    assert client.get("/api/v1/audit", params={"action": "user.deactivated"}).json()["total"] == 1
    assert 'data-action="user.deactivated"' in client.get("/admin/audit").text
    refused = sign_in(client, "lingdao", expect=401)  # the right password: no hint that the account exists
    assert "用户名或密码错误" in refused.text and "停用" not in refused.text


def test_forms_need_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "anquan")
    page = client.get("/admin/users")
    assert client.post("/admin/users", data={"username": "x1", "role": "leader"}).status_code == 403
    assert client.post("/admin/users", data={"username": "x1", "role": "leader", "csrf_token": "forged"}).status_code == 403
    assert client.post("/admin/users/lingdao/active", data={"active": "0"}).status_code == 403
    assert client.post("/admin/users/lingdao/password", data={}).status_code == 403
    assert 'data-user="x1"' not in client.get("/admin/users").text
    assert client.post("/admin/users/nobody/active", data={"active": "0", "csrf_token": csrf(page)}).status_code == 404
    assert client.get("/admin/users/no%00body").status_code == 404  # NUL never reaches PostgreSQL


def test_password_reset_and_api_tokens(client: TestClient) -> None:
    sign_in(client, "anquan")
    page = client.get("/admin/users/lingdao")
    reset = client.post("/admin/users/lingdao/password", data={"csrf_token": csrf(page)})
    assert reset.status_code == 200
    one_time = shown_secret(reset, "one_time")
    # a token skips the second factor: none for another privileged account (the auditor's), 三权分立
    privileged = client.post("/admin/users/shenji/tokens", data={"name": "审计接口", "csrf_token": csrf(page)})
    assert privileged.status_code == 400 and "不能为其他特权账户" in privileged.text
    assert 'data-token="' not in privileged.text
    made = client.post("/admin/users/lingdao/tokens", data={"name": "领导驾驶舱", "csrf_token": csrf(page)})
    token = shown_secret(made, "token")
    assert token.startswith("hrss_") and "领导驾驶舱" in made.text
    [token_id] = re.findall(r'data-token="(\d+)"', made.text)
    auth = {"Authorization": f"Bearer {token}"}
    # the bearer token wins over the cookie: the leader reads the plan, not the audit log
    assert client.get("/api/v1/plan", headers=auth).status_code == 200
    assert client.get("/api/v1/audit", headers=auth).status_code == 403
    revoked = client.post(f"/admin/users/lingdao/tokens/{token_id}/revoke", data={"csrf_token": csrf(page)},
                          follow_redirects=False)
    assert revoked.status_code == 303
    assert client.post(f"/admin/users/shenji/tokens/{token_id}/revoke", data={"csrf_token": csrf(page)}).status_code == 404
    client.cookies.clear()
    assert client.get("/api/v1/plan", headers=auth).status_code == 401
    sign_in(client, "shenji")
    actions = [e["action"] for e in client.get("/api/v1/audit").json()["events"] if e["user_name"] == "anquan"][:3]
    assert actions == ["token.revoked", "token.created", "user.password_reset"]
    sign_in(client, "lingdao", one_time)
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"


def test_audit_api_pages_and_masks(app: FastAPI, client: TestClient) -> None:
    with app.state.sessions.begin() as s:
        for i in range(55):
            record(s, action="test.event", object_type="person", object_id=i, user_name="importer",
                   after={"id_number": "320382198001010019", "phone": "13812341234", "names": ["张三", "李四"], "n": i})
        token = create_api_token(s, get_user(s, "shenji"), "审计系统")
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/audit", params={"action": "test.event"}, headers=auth).json()
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 50, 55, 2)
    assert len(first["events"]) == 50 and first["events"][0]["after"]["n"] == 54  # newest first
    assert first["events"][0]["after"] == {"id_number": "320382********0019", "phone": "138****1234",
                                           "names": ["张*", "李*"], "n": 54}
    second = client.get("/api/v1/audit", params={"action": "test.event", "page": 2}, headers=auth).json()
    assert [e["after"]["n"] for e in second["events"]] == [4, 3, 2, 1, 0]
    small = client.get("/api/v1/audit", params={"user": "importer", "per_page": 10}, headers=auth).json()
    assert small["pages"] == 6 and len(small["events"]) == 10
    assert client.get("/api/v1/audit", params={"page": 0}, headers=auth).status_code == 422
    assert client.get("/api/v1/audit", params={"action": "test\x00.event"}, headers=auth).json()["total"] == 55  # NUL dropped
    sign_in(client, "shenji")
    page = client.get("/admin/audit", params={"action": "test.event", "page": 2})
    assert page.text.count("<tr data-action=") == 5 and "320382********0019" in page.text
    assert "320382198001010019" not in page.text and "13812341234" not in page.text
    assert 'href="/admin/audit?action=test.event&amp;page=1"' in page.text


def test_mask_json() -> None:
    assert mask_json({"id_number": "320382198001010019"}) == {"id_number": "320382********0019"}
    assert mask_json({"phone": "13812341234"}) == {"phone": "138****1234"}
    assert mask_json({"mobile": 13812341234, "联系电话": "13812341234"}) == {"mobile": "138****1234", "联系电话": "138****1234"}
    assert mask_json({"rows": [{"姓名": "王小明", "身份证号": "32038219800101001X"}]}) == {
        "rows": [{"姓名": "王**", "身份证号": "320382********001X"}]}
    assert mask_json({"note": "320382198001010019", "who": "13812341234"}) == {
        "note": "320382********0019", "who": "138****1234"}  # recognised by their form, whatever the key
    kept = {"username": "admin", "display_name": "市级管理员", "role": "leader", "is_active": False, "n": 5}
    assert mask_json(kept) == kept
    assert mask_json(None) is None and mask_json(["a", 1]) == ["a", 1]


def test_the_users_pages_show_sign_in_throttling_and_a_reset_clears_it(client: TestClient) -> None:
    for _ in range(5):  # five wrong passwords for lingdao from this address: it must wait
        sign_in(client, "lingdao", "Wrong-password-1", expect=401)
    sign_in(client, "anquan")  # the same address, another name: not held up
    listing = client.get("/admin/users").text
    cells = dict(re.findall(r'data-user="([^"]+)">.*?<td class="throttled">([^<]*)</td>', listing, re.S))
    assert "登录受限至" in listing and cells["lingdao"].endswith("+08:00") and cells["shenji"] == ""
    page = client.get("/admin/users/lingdao")
    assert "失败 5 次" in re.search(r'<div id="throttled">.*?</div>', page.text, re.S).group(0)
    reset = client.post("/admin/users/lingdao/password", data={"csrf_token": csrf(page)})
    one_time = shown_secret(reset, "one_time")
    assert re.search(r'<div id="throttled"><span>[^<]*</span>—</div>', reset.text)
    sign_in(client, "lingdao", one_time)


def test_display_names_are_masked_on_the_admin_pages(client: TestClient) -> None:
    sign_in(client, "anquan")
    page = client.get("/admin/users")
    made = client.post("/admin/users", data={"username": "wangxm", "display_name": "王小明13812341234", "role": "leader",
                                             "org_unit": "", "csrf_token": csrf(page)})
    assert made.status_code == 200, made.text
    assert "王小明138****1234" in made.text and "13812341234" not in made.text
    pages = (client.get("/admin/users").text, client.get("/admin/users/wangxm").text)
    sign_in(client, "shenji")
    for shown in (*pages, client.get("/admin/audit", params={"action": "user.created"}).text,
                  str(client.get("/api/v1/audit", params={"action": "user.created"}).json())):
        assert "王小明138****1234" in shown and "13812341234" not in shown
