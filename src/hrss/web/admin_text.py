"""Text of the administration pages (审计日志, 用户管理): Chinese first, English with ?lang=en.

Kept apart from `i18n.TEXT` so that this capability owns its words; `ta` works like `t`.
"""

from __future__ import annotations

from hrss.web.i18n import text_in

ADMIN_TEXT: dict[str, tuple[str, str]] = {
    # audit log (审计日志)
    "audit": ("审计日志", "Audit log"),
    "chain_ok": ("审计链完整 (chain intact): {n} 条", "Audit chain intact: {n} events"),
    "chain_broken": ("审计链校验失败，发现 {n} 处问题 (audit chain broken)", "Audit chain broken: {n} problems"),
    "filter": ("筛选", "Filter"),
    "clear": ("清除", "Clear"),
    "action": ("操作", "Action"),
    "operator": ("操作人", "User"),
    "time_local": ("时间 (北京时间)", "Time (Beijing)"),
    "object": ("对象", "Object"),
    "request_id": ("请求编号", "Request id"),
    "client_addr": ("来源地址", "Client address"),
    "before": ("变更前", "Before"),
    "after": ("变更后", "After"),
    "no_events": ("没有符合条件的记录", "No matching events"),
    "page_of": ("第 {page} / {pages} 页，共 {total} 条", "Page {page} of {pages}, {total} events"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "masked_note": ("身份证号、手机号和批量姓名已脱敏显示。", "ID numbers, phone numbers and names in bulk are masked."),
    # users (用户管理)
    "users": ("用户管理", "Users"),
    "user": ("用户", "User"),
    "username": ("用户名", "User name"),
    "display_name": ("姓名", "Display name"),
    "role": ("角色", "Role"),
    "org_unit": ("所属单位", "Org unit"),
    "org_unit_hint": ("仅填报员需选择所属单位（县区、市直，或徐州市本级指标的市级填报员）", "Only operators belong to an org unit (a district, 市直, or the city for its city-level indicators)"),
    "none": ("（无）", "(none)"),
    "active": ("状态", "Status"),
    "is_active": ("启用", "Active"),
    "is_inactive": ("已停用", "Disabled"),
    "throttled_until": ("登录受限至", "Sign-in throttled until"),
    "throttled_from": ("来自 {addr}，失败 {failures} 次", "from {addr}, {failures} failures"),
    "unknown_addr": ("未知地址", "unknown address"),
    "must_change": ("须改密码", "Must change password"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "created": ("创建时间", "Created"),
    "create_user": ("新建用户", "New user"),
    "create": ("创建", "Create"),
    "back": ("返回用户列表", "Back to users"),
    "change_role": ("变更角色或所属单位", "Change role or org unit"),
    "save": ("保存", "Save"),
    "activate": ("启用账户", "Activate account"),
    "deactivate": ("停用账户", "Deactivate account"),
    "reset_password": ("重置密码", "Reset password"),
    "reset_hint": ("生成新的一次性密码；该用户须在登录后立即修改，现有会话全部结束，所有地址的登录限制一并解除。",
                   "Makes a new one-time password; the user must change it after signing in. All their sessions end "
                   "and sign-in throttling is cleared on every address."),
    "one_time": ("一次性密码", "One-time password"),
    "one_time_note": ("此密码只显示这一次，请当面或通过安全渠道交给用户；用户首次登录后须修改。",
                      "Shown only this once: hand it over in person or through a safe channel. It must be changed at first sign-in."),
    "tokens": ("接口令牌", "API tokens"),
    "token_name": ("令牌名称", "Token name"),
    "create_token": ("创建令牌", "Create token"),
    "new_token": ("新的接口令牌", "New API token"),
    "token_note": ("令牌只显示这一次，请立即复制并妥善保存；以 Authorization: Bearer 方式使用。",
                   "Shown only this once: copy it now and keep it safe. Send it as Authorization: Bearer."),
    "last_used": ("最近使用", "Last used"),
    "revoked": ("已吊销", "Revoked"),
    "revoke": ("吊销", "Revoke"),
    "no_tokens": ("暂无令牌", "No tokens"),
    "never": ("从未", "never"),
    "done": ("已保存", "Saved"),
    "self_protect": ("不能停用自己的账户或变更自己的角色 (you cannot deactivate yourself or change your own role)",
                     "You cannot deactivate yourself or change your own role"),
    "unknown_user": ("未知用户", "unknown user"),
    # the second factor (双因素) of an account
    "mfa": ("双因素", "Second factor"),
    "mfa_enrolled": ("已绑定", "set up"),
    "mfa_enrolled_since": ("已绑定（{at}），剩余恢复码 {n} 个", "set up ({at}), {n} recovery codes left"),
    "mfa_missing": ("未绑定（下次登录时绑定）", "not set up (at the next sign-in)"),
    "mfa_not_needed": ("不需要", "not needed"),
    "reset_mfa": ("重置双因素", "Reset second factor"),
    "reset_mfa_hint": ("清除该账户的动态口令和恢复码并结束其全部会话；下次登录时须重新绑定。用于手机和恢复码都丢失的情况。",
                       "Clears the account's one-time-code set-up and recovery codes and ends all its sessions; "
                       "it sets them up again at the next sign-in. For a lost phone and lost recovery codes."),
    "self_mfa": ("不能重置自己的双因素，请由另一位安全管理员操作或使用 hrss user reset-mfa (you cannot reset your own second factor)",
                 "You cannot reset your own second factor: ask another security administrator, or use hrss user reset-mfa"),
    "needs_session": ("账户变更须在网页上以完成双因素验证的会话操作，不能用接口令牌 (changes to accounts need a signed-in browser session)",
                      "not allowed: changes to accounts need a browser session signed in with both factors, not a token"),
    "token_privileged": ("不能为其他特权账户（须双因素登录的角色）创建接口令牌：令牌不经动态口令，持有者即可以该账户身份操作；"
                         "请由账户本人登录后创建 (no API token for another privileged account)",
                         "No API token for another privileged account: a token skips the second factor, so its holder "
                         "could act as that account. The account holder creates it, signed in."),
    "read_only": ("您可以查看账户，账户的变更由安全管理员负责。", "You may view the accounts; changes are the security administrator's."),
    "unknown_token": ("未知令牌", "unknown token"),
}


def ta(key: str, lang: str, **values: object) -> str:
    """The administration text for key in lang, with {placeholders} filled from values."""
    return text_in(ADMIN_TEXT, key, lang, **values)
