"""User-interface text: Chinese first, English available (?lang=en, remembered in a cookie)."""

from __future__ import annotations

import re
from typing import Any

from hrss.monitoring.evaluation import STATUS_EN
from hrss.plan.units import UNIT_EN

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app": ("人社规划监测评估平台", "HRSS plan monitoring"),
    "dashboard": ("总览", "Overview"),
    "indicators": ("指标", "Indicators"),
    "org_units": ("地区", "Org units"),
    "as_of": ("截至月份", "As of"),
    "show": ("查看", "Show"),
    "error_title": ("无法完成请求", "The request could not be completed"),
    "go_back": ("返回上一页", "Go back"),
    "plan_ended": ("规划期已结束（{start}–{end}），以下为终期结果", "The plan period has ended ({start}–{end}); these are the final results"),
    "target": ("目标", "Target"),
    "actual": ("实际", "Actual"),
    "expected": ("序时", "Expected"),
    "completion": ("完成进度", "Completion"),
    "time_elapsed": ("时间进度", "Time elapsed"),
    "status": ("状态", "Status"),
    "projection": ("预测研判", "Projection"),
    "rank": ("排名", "Rank"),
    "baseline": ("基数", "Baseline"),
    "unit": ("单位", "Unit"),
    "warnings": ("预警与滞后", "Warnings"),
    "no_warnings": ("暂无滞后指标", "Nothing behind schedule"),
    "binding_alert": ("约束性指标预警", "Binding indicator alert"),
    "simulated": ("模拟数据", "Simulated data"),
    "by_org_unit": ("分地区完成情况", "By org unit"),
    "trend": ("实际值与序时进度", "Actual vs schedule"),
    "measures": ("评价方法", "How it is measured"),
    "note": ("口径说明", "Definition note"),
    "download": ("下载数据 (CSV)", "Download data (CSV)"),
    "targets_by_year": ("分年度目标", "Targets by year"),
    "progress": ("完成情况", "Progress"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "data_through": ("数据截至", "Data through"),
    "missing": ("未报送", "Not reported"),
    "language": ("English", "中文"),
    "change_password": ("修改密码", "Change password"),
    "entry": ("数据填报", "Data entry"),
    "review": ("审核", "Review"),
    "users": ("用户管理", "Users"),
    "audit": ("审计日志", "Audit log"),
    "period": ("期间", "Period"),
    "previous": ("上期值", "Previous"),
    "counted": ("已计入值", "Counted now"),
    "pending_value": ("本期待审值", "Awaiting approval"),
    "value": ("本期值", "This period"),
    "save_draft": ("保存草稿", "Save draft"),
    "submit": ("提交审核", "Submit for review"),
    "comment": ("说明", "Comment"),
    "thread": ("报送与审核记录", "Submission and review history"),
    "step_submitted": ("报送", "Submitted"),
    "step_approved": ("审核通过", "Approved"),
    "step_returned": ("退回", "Returned"),
    "step_reopened": ("退回重填", "Reopened"),
    "no_comment": ("（未填写说明）", "(no comment)"),
    "not_reported": ("未报", "not reported"),
    "more_problems": ("以及另外 {n} 处问题（请先改正以上各处后重新上传）", "and {n} more problems (fix the ones above and upload again)"),
    "missing_note": ("本次报送有 {n} 项指标未报：审核通过后，这些指标本月的已计入值不变（无已计入值的仍为空）。",
                     "{n} indicators were not reported: approving leaves their counted figures for the month as they are."),
    "approve": ("审核通过", "Approve"),
    "return": ("退回", "Return"),
    "reopen": ("重新打开", "Reopen"),
    "their_value": ("他人已保存的值", "Value saved by someone else"),
    "your_value": ("您输入的值", "Your value"),
    "rules": ("校验结果", "Rule checks"),
    "reporting": ("报送情况", "Reporting"),
    "completeness_rate": ("报送完整率", "Completeness"),
    "timeliness_rate": ("及时率", "Timeliness"),
    "details": ("详情", "Details"),
    "not_received": ("尚未报送", "Not received"),
    "nothing_due": ("本月尚无到期的报送", "Nothing due for this month yet"),
    "excel": ("Excel 模板填报", "Excel template"),
    "download_template": ("下载本期填报模板", "Download this period's template"),
    "upload": ("上传填好的模板", "Upload the filled template"),
    "current_password": ("当前密码", "Current password"),
    "new_password": ("新密码", "New password"),
    "confirm_password": ("确认新密码", "Confirm new password"),
    "password_rules": ("密码至少12位，须包含大写字母、小写字母、数字、符号中的至少三类，且不得包含用户名。",
                       "At least 12 characters, three of upper case, lower case, digits and symbols, not containing the user name."),
}

MEASURE_HELP: dict[str, tuple[str, str]] = {
    "cumulative": (
        "五年累计指标：完成进度 = 累计完成 ÷ 五年目标；序时进度 = 已过月数 ÷ 60；差距 = 完成进度 − 序时进度（百分点）。"
        "预测按近12个月月均增量外推。",
        "Five-year cumulative: completion = total so far ÷ five-year target; time elapsed = months ÷ 60; "
        "gap in percentage points. Projection from the run rate of the last 12 months.",
    ),
    "level": (
        "期末水平指标：完成进度 = (实际 − 基数) ÷ (目标 − 基数)，与时间进度比较；"
        "另列年均增速法（UNSD、Open SDG）。预测按近24个月线性趋势外推。",
        "End-of-period level: completion = share of the distance from baseline to target covered, against "
        "time elapsed; CAGR-based UNSD and Open SDG measures; projection from a 24-month linear trend.",
    ),
    "floor": (
        "下限指标：须达到或高于目标值；有基数或中期节点的按路径序时评价，否则看是否达标及余量（百分点）。",
        "Floor: must reach or stay at or above the target; judged along its path where it has a baseline "
        "or milestones, otherwise by compliance and margin.",
    ),
    "ceiling": (
        "上限指标：须控制在目标值以内；看是否达标及余量（百分点）。",
        "Ceiling: must stay at or below the target; judged by compliance and margin.",
    ),
}


def text_in(table: dict[str, tuple[str, str]], key: str, lang: str, **values: object) -> str:
    """key's text of table in lang (Chinese unless "en"), {placeholders} filled from values."""
    zh, en = table[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def t(key: str, lang: str) -> str:
    return text_in(TEXT, key, lang)


def measure_help(kind: str, lang: str) -> str:
    zh, en = MEASURE_HELP.get(kind, MEASURE_HELP["level"])
    return en if lang == "en" else zh


# Domain words the engine and the plan speak in Chinese, and their English for English
# pages. The Chinese stays the data; only what a page shows is translated.
TERMS_EN: dict[str, str] = {
    **{str(k): v for k, v in STATUS_EN.items()},
    "能够完成": "on course to be met", "存在风险": "at risk", "难以完成": "unlikely to be met",
    **UNIT_EN,
    "草稿": "Draft", "待审核": "Awaiting review", "已审核": "Approved", "已退回": "Returned", "未填报": "Not entered",
    "已导入": "Imported", "未报送": "Not reported", "未到期": "Not due yet",
    "已达到": "Achieved", "未达到": "Not achieved", "业务佐证": "Evidence from the business division",
    "需业务处室提供佐证": "Evidence needed from the business division",
    "该承诺无对应监测指标，需业务处室提供佐证材料": "No monitored indicator: the business division provides evidence",
    "进行中": "in progress",
    "市级管理员": "City administrator", "市统计审核员": "City statistician", "填报员": "Reporting operator",
    "领导": "Leader", "审计员": "Auditor", "安全管理员": "Security administrator",
    "指标数据": "Indicator data", "规划期内": "Within the plan period", "每年": "Every year", "每两年": "Every two years",
}
ANNEX_TABLE = re.compile(r"^附件表(\d+)")
BY_YEAR_END = re.compile(r"^(\d{4})年底前$")


def term(text: object, lang: str) -> str:
    """A domain word as an English page shows it; unknown words stay as they are."""
    word = "" if text is None else str(text)
    if lang != "en":
        return word
    if word in TERMS_EN:
        return TERMS_EN[word]
    if m := BY_YEAR_END.match(word):
        return f"By the end of {m.group(1)}"
    return ANNEX_TABLE.sub(r"Annex table \1", word)


def indicator_name(ind: Any, lang: str) -> str:
    """The indicator's English name on English pages where the plan gives one, else its Chinese name."""
    return ind.name_en if lang == "en" and ind.name_en else ind.name
