"""Text of the tracking pages (报送情况, 任务台账, 报告): Chinese first, English with ?lang=en.

Kept apart from `i18n.TEXT` so that this capability owns its words; `tt` works like `t`.
"""

from __future__ import annotations

from hrss.web.i18n import text_in

TRACKING_TEXT: dict[str, tuple[str, str]] = {
    # completeness and timeliness (报送完整率与及时率)
    "completeness": ("报送情况", "Reporting"),
    "completeness_title": ("报送完整率与及时率", "Completeness and timeliness"),
    "year": ("年度", "Year"),
    "show": ("查看", "Show"),
    "org_unit": ("单位", "Org unit"),
    "month": ("月份", "Month"),
    "completeness_rate": ("完整率", "Completeness"),
    "timeliness_rate": ("及时率", "Timeliness"),
    "overall": ("全部", "All"),
    "late": ("逾期", "late"),
    "deadline_rule": ("月度数据须于次月{day}日前（含）报送；已报送 = 待审核、已审核或已导入；完整率 = 已报送 ÷ 应报送，"
                      "及时率 = 按时报送 ÷ 应报送；截止日未到且尚未报送的月份（未到期）不计入。已导入数据无报送时间，不计逾期。",
                      "Monthly figures are due by day {day} of the following month. Received = awaiting review, approved "
                      "or imported; completeness = received ÷ due, timeliness = received on time ÷ due. Months not yet "
                      "due with nothing received do not count. Imported values carry no submission date and are never late."),
    "today": ("统计日期", "As of"),
    "reminders": ("催报清单", "Reminders"),
    "no_reminders": ("没有逾期未报的单位", "Nothing overdue"),
    "deadline": ("截止日期", "Deadline"),
    "days_overdue": ("逾期天数", "Days overdue"),
    "state": ("状态", "State"),
    "reconcile": ("数据会审", "Reconciliation"),
    # commitments ledger (任务台账)
    "ledger": ("任务台账", "Commitments"),
    "ledger_title": ("任务台账（规划量化承诺）", "Commitments ledger"),
    "id": ("编号", "No."),
    "section": ("章节", "Section"),
    "commitment": ("承诺内容", "Commitment"),
    "target": ("目标值", "Target"),
    "due": ("时限", "Due"),
    "area": ("责任领域", "Area"),
    "method": ("评价方式", "Method"),
    "conclusion": ("评价结论", "Judgement"),
    "detail": ("依据", "Evidence"),
    "evidence_note": ("佐证说明", "Evidence note"),
    "all": ("全部", "All"),
    "filter": ("筛选", "Filter"),
    "count": ("共 {n} 项", "{n} commitments"),
    "save": ("保存", "Save"),
    "note_status": ("进展", "Progress"),
    "note_text": ("说明（不超过2000字）", "Note (at most 2000 characters)"),
    "updated": ("更新", "Updated"),
    "edit_note": ("填写佐证", "Add evidence"),
    "unknown_commitment": ("未知承诺编号", "unknown commitment"),
    "bad_filter": ("筛选条件无效", "invalid filter"),
    # reports (报告)
    "reports": ("报告", "Reports"),
    "reports_title": ("生成与下载报告", "Generate and download reports"),
    "kind": ("报告类型", "Kind"),
    "as_of": ("截至月份", "As of"),
    "generate": ("生成报告", "Generate"),
    "generating_note": ("生成 Word 报告和 Excel 附表约需数秒；生成与下载均记入审计日志。",
                        "Writing the Word report and its Excel workbook takes a few seconds; generation and downloads are audited."),
    "files": ("已生成的报告", "Generated reports"),
    "no_files": ("暂无报告", "No reports yet"),
    "file": ("文件", "File"),
    "size": ("大小", "Size"),
    "modified": ("生成时间", "Written"),
    "generated": ("已生成：{names}", "Written: {names}"),
    "unknown_kind": ("未知报告类型", "unknown report kind"),
    "no_such_file": ("没有这个报告文件", "no such report file"),
}

AREA_LABELS: dict[str, tuple[str, str]] = {
    "employment": ("就业", "Employment"),
    "entrepreneurship": ("创业", "Entrepreneurship"),
    "social_security": ("社会保障", "Social security"),
    "talent": ("人才", "Talent"),
    "personnel": ("人事", "Personnel"),
    "labour_relations": ("劳动关系", "Labour relations"),
    "public_service": ("公共服务", "Public service"),
}

# Ledger status filter: judgement keys (from reports/ledger.py conclusions) and evidence-note statuses.
STATUS_FILTERS: dict[str, tuple[str, str]] = {
    "met": ("已达到", "Met"),
    "not_met": ("未达到", "Not met"),
    "in_progress": ("推进中", "In progress"),
    "no_data": ("无数据", "No data"),
    "evidence": ("需业务处室提供佐证", "Needs evidence"),
    "进行中": ("佐证：进行中", "Evidence: ongoing"),
    "已完成": ("佐证：已完成", "Evidence: done"),
    "未完成": ("佐证：未完成", "Evidence: not done"),
}

KIND_LABELS_EN = {"monthly": "Monthly brief", "annual": "Annual report", "midterm": "Mid-term review", "final": "Final review"}


def tt(key: str, lang: str, **values: object) -> str:
    """The tracking text for key in lang, with {placeholders} filled from values."""
    return text_in(TRACKING_TEXT, key, lang, **values)


def label(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """A label from AREA_LABELS or STATUS_FILTERS (the key itself when unknown)."""
    zh, en = table.get(key, (key, key))
    return en if lang == "en" else zh
