"""Reports: Word and Excel files, charts with Chinese text, sentences, ledger, cell safety."""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from matplotlib.text import Text

from hrss.monitoring.engine import Evaluation
from hrss.monitoring.periods import month_index
from hrss.monitoring.series import ValueSet
from hrss.plan.model import Commitment, Plan, TargetKind
from hrss.plan.planfile import load_plan
from hrss.plan.units import factor
from hrss.reports import charts, content, ledger
from hrss.reports.build import ReportError, collect, report_stem, write_reports
from hrss.reports.xlsx_report import safe_cell

START, END = month_index(2021, 1), month_index(2025, 12)
MONTHS = END - START + 1
# Shortfalls so that the report has lagging units and a lagging binding indicator.
SHORT = {("I01", "丰县"): 0.7, ("I07", "沛县"): 0.6, ("I14", "徐州市"): 0.85}
RATES = {"I02": (3.0, 3.1), "I09": (83.5, 88.0), "I15": (98.5, 98.6), "I16": (71.0, 72.0),
         "I17": (95.5, 96.0), "I18": (40.0, 72.0), "I19": (96.0, 97.0), "I11": (689.0, 800.0)}


def _leaf_targets(plan: Plan, code: str) -> dict[str, tuple[float, float | None]]:
    """Each reporting unit's (final target, baseline) in the 表2 unit, groups split evenly."""
    ind, dec = plan.indicator(code), plan.decomposition_for(code)
    assert dec is not None
    f = factor(dec.unit, ind.unit)
    out: dict[str, tuple[float, float | None]] = {}
    for row in dec.rows:
        unit = plan.org_unit(row.org_unit)
        assert unit is not None
        leaves = unit.members or (unit.name,)
        if ind.kind is TargetKind.CUMULATIVE:
            final = row.total if row.total is not None else sum(row.values[y] for y in dec.target_years)
        else:
            final = row.values[ind.target_year]
        base = row.values[dec.base_year] * f / len(leaves) if dec.base_year else None
        for leaf in leaves:
            out[leaf] = (final * f / len(leaves), base)
    return out


def build_values(plan: Plan) -> ValueSet:
    """Monthly values 2021-01..2025-12: flows and stocks by unit, rates for the city."""
    rows: list[tuple[str, str, int, int, float, float | None, float | None]] = []
    for ind in plan.indicators:
        if ind.code in RATES:
            lo, hi = RATES[ind.code]
            for i in range(MONTHS):
                v = lo + (hi - lo) * (i + 1) / MONTHS
                num, den = (v * 10, 1000.0) if ind.code == "I16" else (None, None)
                rows.append((ind.code, "徐州市", START + i, START + i, v, num, den))
            continue
        units = _leaf_targets(plan, ind.code) if plan.decomposition_for(ind.code) else {"徐州市": (ind.target, ind.baseline)}
        for unit, (final, base) in units.items():
            f = SHORT.get((ind.code, unit), 1.02)
            for i in range(MONTHS):
                if ind.kind is TargetKind.CUMULATIVE:
                    v = final * f / MONTHS
                else:
                    v = (base or 0.0) + (final * f - (base or 0.0)) * (i + 1) / MONTHS
                rows.append((ind.code, unit, START + i, START + i, v, None, None))
    return ValueSet.from_rows(plan, rows)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="module")
def final_files(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("final")
    messages: list[str] = []
    files = write_reports(plan, build_values(plan), kind="final", as_of=END, out_dir=out,
                          simulated=True, progress=messages.append)
    return {"files": files, "messages": messages}


def _all_text(document: Any) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


# --- the Word report -----------------------------------------------------------------


def test_final_docx_names_every_key_indicator_and_has_charts(plan: Plan, final_files: dict[str, Any]) -> None:
    path = final_files["files"].docx
    assert path.name == "徐州市人社十四五规划终期评估报告_2025-12.docx"
    d = docx.Document(str(path))
    text = _all_text(d)
    assert len(plan.key_indicators) == 19
    for ind in plan.key_indicators:
        assert ind.name in text, ind.name
    assert len(d.inline_shapes) >= 19 + 9  # one trend chart per key indicator, one per annex table
    headings = [p.text for p in d.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["一、总体情况", "二、主要指标完成情况", "三、分地区完成情况", "四、任务台账",
                        "五、未完成指标与预警", "六、下一步建议"]
    subheads = [p.text for p in d.paragraphs if p.style.name == "Heading 2"]
    for n in range(1, 10):
        assert any(h.startswith(f"（{content.cn_number(n)}）附件表{n} ") for h in subheads), n
    assert "城镇新增就业人数累计完成" in text and "为五年目标37.5万人的" in text
    assert "约束性指标预警" in text and "新招收博士后人数" in text  # the binding shortfall is flagged
    assert "需业务处室提供佐证" in text
    assert final_files["messages"], "progress callback was never called"


def test_final_docx_is_marked_simulated_and_laid_out_as_official_document(final_files: dict[str, Any]) -> None:
    d = docx.Document(str(final_files["files"].docx))
    assert "（本报告基于模拟数据 Simulated data）" in [p.text for p in d.paragraphs[:4]]
    section = d.sections[0]
    assert "模拟数据" in section.header.paragraphs[0].text
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert [m.mm for m in margins] == pytest.approx([37, 35, 28, 26], abs=0.05)  # stored in twips
    assert [section.page_width.mm, section.page_height.mm] == pytest.approx([210, 297], abs=0.05)
    normal = d.styles["Normal"]
    assert normal.font.size.pt == 16
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert d.styles["Heading 2"].element.rPr.rFonts.get(qn("w:eastAsia")) == "楷体_GB2312"
    title_run = d.paragraphs[0].runs[0]
    assert title_run.element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert "PAGE" in section.footer.paragraphs[0]._p.xml
    fonts = d.part.part_related_by(RT.FONT_TABLE).blob.decode("utf-8")
    assert 'w:name="方正小标宋简体"' in fonts and 'w:altName w:val="宋体"' in fonts


def test_monthly_and_midterm_reports(plan: Plan, tmp_path: Path) -> None:
    values = build_values(plan)
    monthly = write_reports(plan, values, kind="monthly", as_of=month_index(2024, 5), out_dir=tmp_path)
    d = docx.Document(str(monthly.docx))
    text = _all_text(d)
    assert "模拟数据" not in text and not d.sections[0].header.paragraphs[0].text
    assert [p.text for p in d.paragraphs if p.style.name == "Heading 1"] == [
        "一、总体情况", "二、滞后单位与预警", "三、分地区进度排名", "四、工作建议"]
    assert "按当前趋势研判" in text  # projections are stated before the end of the plan
    midterm = write_reports(plan, values, kind="midterm", as_of=month_index(2023, 6), out_dir=tmp_path)
    d = docx.Document(str(midterm.docx))
    text = _all_text(d)
    assert "时间进度为50.0%" in text and "时间过半、任务过半" in text
    test_table = next(t for t in d.tables if t.rows[0].cells[-1].text == "是否过半")
    verdicts = {r.cells[0].text.split("（")[0]: r.cells[-1].text for r in test_table.rows[1:]}
    assert verdicts["城镇新增就业人数"] == "是"  # 1.02 × the schedule
    assert verdicts["新招收博士后人数"] == "否"  # 0.85 × the schedule


def _pct_cell(text: str) -> float | None:
    return None if text == "—" else float(text.rstrip("%"))


def test_midterm_report_tests_half_the_target_per_indicator_and_unit(plan: Plan, tmp_path: Path) -> None:
    values = build_values(plan)
    for as_of in (month_index(2023, 6), month_index(2023, 12)):
        files = write_reports(plan, values, kind="midterm", as_of=as_of, out_dir=tmp_path)
        d = docx.Document(str(files.docx))
        text = _all_text(d)
        assert re.search(r"附件分解的9项指标共\d+个地区目标中，\d+个实现“时间过半、任务过半”", text)
        # every annex table has its own 任务过半 column: 是 exactly when 完成进度 ≥ 50 % (half of the unit's target)
        unit_tables = [t for t in d.tables if t.rows[0].cells[-1].text == "任务过半"]
        assert len(unit_tables) == len(plan.decompositions) == 9
        judged = 0
        for t in unit_tables:
            head = [cell.text for cell in t.rows[0].cells]
            done = head.index("完成进度")
            for r in t.rows[1:]:
                share, verdict = _pct_cell(r.cells[done].text), r.cells[-1].text
                assert verdict == ("—" if share is None else "是" if share >= 50 else "否"), (head, r.cells[0].text)
                judged += verdict != "—"
        assert judged > 50
        # the Excel companion carries the same verdict on each row
        wb = openpyxl.load_workbook(files.xlsx)
        ws = wb["分地区"]
        head = [c.value for c in ws[1]]
        col, share = head.index("时间过半任务过半"), head.index("完成进度(%)")
        for row in ws.iter_rows(min_row=2, values_only=True):
            if row[share] is not None and row[col] != "—":
                assert row[col] == ("是" if row[share] >= 0.5 - 1e-9 else "否")
    # 2023-12: time is 36 of 60 months = 60 %, the test stays "half the target"
    assert "时间进度为60.0%" in text


def test_report_arguments_are_checked(plan: Plan, tmp_path: Path) -> None:
    values = ValueSet.from_rows(plan, [])
    with pytest.raises(ReportError, match="未知报告类型"):
        write_reports(plan, values, kind="weekly", as_of=END, out_dir=tmp_path)
    with pytest.raises(ReportError, match="不在规划期"):
        write_reports(plan, values, kind="final", as_of=month_index(2026, 1), out_dir=tmp_path)
    assert report_stem(plan, "annual", month_index(2022, 12)) == "徐州市人社十四五规划年度监测报告_2022-12"


def test_report_without_any_data_says_so(plan: Plan, tmp_path: Path) -> None:
    files = write_reports(plan, ValueSet.from_rows(plan, []), kind="final", as_of=END, out_dir=tmp_path)
    d = docx.Document(str(files.docx))
    text = _all_text(d)
    assert "19项主要指标中，无数据19项" in text and "4项暂无数据" in text
    assert "城镇新增就业人数暂无数据，无法评价" in text
    assert len(d.inline_shapes) == 19 + 9  # the charts are drawn, empty


# --- the Excel companion ------------------------------------------------------------------


def test_final_xlsx_sheets_and_targets(plan: Plan, final_files: dict[str, Any]) -> None:
    wb = openpyxl.load_workbook(final_files["files"].xlsx)
    assert wb.sheetnames == ["总体情况", "分地区", "附件分解表", "任务台账", "滞后预警", "说明"]
    ws = wb["总体情况"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["指标代码", "指标名称", "地区"] and "完成进度(%)" in header and "研判" in header
    assert ws.freeze_panes == "C2" and ws["A1"].font.bold
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    for ind in plan.key_indicators:
        assert rows[ind.name]["目标值"] == pytest.approx(ind.target), ind.name
        assert rows[ind.name]["地区"] == "徐州市"
    assert rows["城镇新增就业人数"]["目标值"] == 37.5 and rows["城镇新增就业人数"]["计量单位"] == "万人"
    col = header.index("完成进度(%)") + 1
    assert ws.cell(row=2, column=col).number_format == "0.0%"
    assert isinstance(ws.cell(row=2, column=col).value, float)
    units = {(r[0], r[2]) for r in wb["分地区"].iter_rows(min_row=2, values_only=True)}
    assert ("I01", "丰县") in units and ("I06", "市区(含贾汪)") in units
    annex = list(wb["附件分解表"].iter_rows(values_only=True))
    assert annex[1][:2] == ("附件表1", "I01") and annex[1][4] == "丰县" and 11500 in annex[1]
    assert wb["任务台账"].max_row == len(plan.commitments) + 1
    lag = list(wb["滞后预警"].iter_rows(min_row=2, values_only=True))
    assert any(r[2] == "丰县" and r[0] == "I01" for r in lag)
    assert any("模拟数据" in str(r[1]) for r in wb["说明"].iter_rows(values_only=True))


@pytest.mark.parametrize("raw", ["=1+1", "+1", "-1+1", "-A1", "-", "@SUM(A1)", "\t=1", "\r=1",
                                 '=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)"])
def test_safe_cell_neutralises_formulas(raw: str) -> None:
    assert safe_cell(raw) == "'" + raw


def test_safe_cell_keeps_negative_numbers() -> None:
    """A negative number stays a number; as text it is kept too: a spreadsheet reads "-5" as -5 (hrss.cells)."""
    assert safe_cell(-5) == -5 and safe_cell(-3.25) == -3.25
    assert safe_cell("-5") == "-5" and safe_cell("-3.25") == "-3.25"


def test_safe_cell_leaves_plain_values() -> None:
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("城镇新增就业人数") == "城镇新增就业人数"
    assert safe_cell(37.5) == 37.5 and safe_cell(None) is None
    assert safe_cell("a\x00b") == "ab"  # characters that Excel cannot store are dropped


def test_formula_in_plan_text_is_written_as_text(plan: Plan, tmp_path: Path) -> None:
    evil = Commitment("C999", "=HYPERLINK(\"http://x\")", "=1+1", 1, "个", ">=", "period", "x")
    data = collect(dataclasses.replace(plan, commitments=(evil,)), build_values(plan), kind="monthly", as_of=END)
    from hrss.reports.xlsx_report import write_xlsx

    wb = openpyxl.load_workbook(write_xlsx(data, tmp_path / "x.xlsx"))
    row = [c for c in wb["任务台账"][2]]
    assert row[1].value == "'=HYPERLINK(\"http://x\")" and row[2].value == "'=1+1"
    assert all(c.data_type != "f" for c in row)


# --- charts ------------------------------------------------------------------------


def test_cjk_font_is_found() -> None:
    path = charts.find_cjk_font()
    assert path.is_file()
    assert any(name in charts.cjk_font().family for name in ("Noto", "Source Han", "WenQuanYi"))


def test_chart_text_uses_the_cjk_font_and_no_glyph_is_missing(plan: Plan) -> None:
    data = collect(plan, build_values(plan), kind="final", as_of=month_index(2022, 3))
    figures = [charts.trend_figure(plan.indicator("I01"), data.history["I01"]),
               charts.trend_figure(plan.indicator("I02"), data.history["I02"]),
               charts.district_figure(plan.decompositions[0], plan.indicator("I01"), data.unit_evals("I01"))]
    font_file = str(charts.find_cjk_font())
    for fig in figures:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            png = charts.png(fig)
        assert png.startswith(b"\x89PNG")
        assert not [w for w in caught if "missing from font" in str(w.message)]
        texts = [t for t in fig.findobj(Text) if t.get_text()]
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t.get_text()) for t in texts)
        for t in texts:
            assert t.get_fontproperties().get_file() == font_file, t.get_text()


def test_missing_cjk_font_explains_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    charts.cjk_font.cache_clear()
    monkeypatch.setattr(charts, "_candidates", lambda: [("DejaVu Sans", "/x/DejaVuSans.ttf", 0, 400)])
    try:
        with pytest.raises(charts.FontMissingError, match="fonts-noto-cjk"):
            charts.find_cjk_font()
    finally:
        charts.cjk_font.cache_clear()


# --- sentences ----------------------------------------------------------------------


def _ev(**kw: Any) -> Evaluation:
    base: dict[str, Any] = dict(
        indicator_code="I01", indicator="城镇新增就业人数", org_unit="徐州市", as_of="2025-12", unit="万人",
        kind="cumulative", attribute="expected", actual=37.8, expected=37.5, target=37.5, baseline=8.8,
        completion=37.8 / 37.5, expected_completion=1.0, time_elapsed=1.0, gap_pp=(37.8 / 37.5 - 1) * 100,
        status="已完成", color="green", escalate=False, progress_measure={}, projection={})
    base.update(kw)
    return Evaluation(**base)


def test_cumulative_sentence() -> None:
    text = content.describe(_ev())
    # the plan period is over: a verdict, no 序时 comparison
    assert text.startswith("城镇新增就业人数累计完成37.8万人，为五年目标37.5万人的100.8%，状态：已完成。")


def test_cumulative_sentence_before_the_end_states_time_and_projection() -> None:
    e = _ev(as_of="2023-06", actual=16.0, completion=16 / 37.5, time_elapsed=0.5, expected_completion=0.5,
            gap_pp=(16 / 37.5 - 0.5) * 100, status="滞后",
            projection={"value": 35.2, "year": 2025, "verdict": "难以完成",
                        "method": "近12个月月均增量外推 (run rate of the last 12 months)"})
    text = content.describe(e)
    assert "时间进度50.0%，落后序时进度7.3个百分点，状态：滞后" in text
    assert "按近12个月月均增量外推，预计2025年末累计达到35.2万人，研判：难以完成。" in text
    assert "run rate" not in text


def test_ceiling_floor_and_level_sentences() -> None:
    ceiling = _ev(indicator="城镇登记失业率", unit="%", kind="ceiling", actual=3.2, target=4.0,
                  compliance={"compliant": True, "margin": 0.8, "bound": "ceiling"})
    assert "城镇登记失业率为3.2%，目标为控制在4%以内，低于上限0.8个百分点，符合目标要求" in content.describe(ceiling)
    floor = _ev(indicator="劳动人事争议调解成功率", unit="%", kind="floor", actual=68.5, target=70.0, status="滞后",
                compliance={"compliant": False, "margin": -1.5, "bound": "floor"})
    assert "低于下限1.5个百分点，未达到目标要求，状态：滞后" in content.describe(floor)
    level = _ev(indicator="失业保险参保人数", kind="level", actual=92.0, target=100.0, baseline=84.9,
                completion=(92 - 84.9) / 15.1, expected_completion=0.6, time_elapsed=0.6, status="符合序时",
                gap_pp=((92 - 84.9) / 15.1 - 0.6) * 100,
                progress_measure={"method": "cagr", "cagr_actual": 0.027, "cagr_required": 0.033,
                                  "opensdg_ratio": 0.82, "opensdg_category": "moderate_progress",
                                  "unsd_ratio": 0.82, "unsd_category": "fair_progress"})
    text = content.describe(level)
    assert "失业保险参保人数达到92万人（基数84.9万人，目标100万人），已完成从基数到目标距离的47.0%" in text
    assert "按Open SDG方法评价为“一定进展”（比值0.82）" in text and "按UNSD方法评价为“一定进展(需加速)”" in text
    assert content.describe(_ev(actual=None, status="无数据")) == "城镇新增就业人数暂无数据，无法评价，状态：无数据。"


def test_formatting_helpers() -> None:
    assert [content.cn_number(n) for n in (1, 9, 10, 11, 19, 20, 23)] == ["一", "九", "十", "十一", "十九", "二十", "二十三"]
    assert content.num(37.50, "万人") == "37.5" and content.num(11500.0, "人") == "11500" and content.num(None) == "—"
    assert content.pct(1.008) == "100.8%" and content.month_words(month_index(2025, 12)) == "2025年12月"


def test_ledger_judges_linked_commitments_and_asks_evidence_for_the_rest(plan: Plan) -> None:
    data = collect(plan, build_values(plan), kind="final", as_of=END)
    entries = {x.commitment.id: x for x in ledger.ledger(data)}
    assert entries["C001"].conclusion == "已达到" and entries["C001"].indicator == "城镇新增就业人数"
    assert entries["C004"].conclusion == ledger.EVIDENCE  # 开展创业培训5万人: no indicator
    assert entries["C047"].conclusion == "未达到"  # 博士后 600人, 0.85 × target
    yearly = entries["C026"]  # 每年新增就业人数不少于7.5万人: judged on 2025 alone
    assert yearly.detail.startswith("2025年完成") and yearly.conclusion == "已达到"
    assert entries["C030"].unit == "亿元" and entries["C030"].actual == pytest.approx(102.0)
