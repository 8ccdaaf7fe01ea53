"""The Word report (Word 报告), laid out after GB/T 9704 (党政机关公文格式).

A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; title in 方正小标宋简体
二号, body 仿宋_GB2312 三号, headings 黑体 (一、) and 楷体_GB2312 (（一）); page numbers
"— N —" in the footer. Fonts an office PC may lack carry a substitute in the font
table (方正小标宋简体 → 宋体, 仿宋_GB2312 → 仿宋, 楷体_GB2312 → 楷体).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree

from hrss.monitoring.engine import Evaluation
from hrss.plan.model import Decomposition
from hrss.plan.units import factor
from hrss.reports import charts, ledger
from hrss.reports import content as c
from hrss.reports.content import ReportData

TITLE_FONT, BODY_FONT, H1_FONT, H2_FONT, NUMBER_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体", "楷体_GB2312", "宋体"
FALLBACKS = {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体"}
LATIN = "Times New Roman"
RED = RGBColor(0xC0, 0x00, 0x00)
TEXT_WIDTH = Cm(15.6)


# --- fonts and styles -------------------------------------------------------------


def set_font(element: object, east_asia: str, latin: str = LATIN) -> None:
    """Set Latin and East Asian font names on a run or style (w:rFonts), dropping theme fonts."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{attr}"), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def _style(doc: DocxDocument, name: str, font: str, size: float, *, bold: bool = False, indent: bool = True) -> None:
    style = doc.styles[name]
    set_font(style.element, font)
    for color in style.element.findall(f"{qn('w:rPr')}/{qn('w:color')}"):
        color.getparent().remove(color)
    style.font.size, style.font.bold, style.font.italic = Pt(size), bold, False
    style.font.color.rgb = RGBColor(0, 0, 0)
    pf = style.paragraph_format
    pf.space_before, pf.space_after = Pt(0), Pt(0)
    pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(29)
    pf.first_line_indent = Pt(size * 2) if indent else Pt(0)


def _setup(doc: DocxDocument, simulated: bool) -> None:
    for fonts in doc.styles.element.iter(qn("w:rFonts")):
        for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            fonts.attrib.pop(qn(f"w:{attr}"), None)  # theme fonts would override the names set here
    _style(doc, "Normal", BODY_FONT, 16)
    _style(doc, "Heading 1", H1_FONT, 16)
    _style(doc, "Heading 2", H2_FONT, 16)
    _style(doc, "Caption", H1_FONT, 12, indent=False)
    doc.styles["Caption"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for name in ("Heading 1", "Heading 2"):
        doc.styles[name].paragraph_format.keep_with_next = True
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(25)
    _page_number(section.footer.paragraphs[0])
    if simulated:
        p = section.header.paragraphs[0]
        p.alignment, p.paragraph_format.first_line_indent = WD_ALIGN_PARAGRAPH.CENTER, Pt(0)
        _run(p, "模拟数据（Simulated data）", H1_FONT, 10.5, color=RED)
    _font_fallbacks(doc)


def _font_fallbacks(doc: DocxDocument) -> None:
    """Declare GB2312 fonts with a substitute (w:altName) for PCs that lack them."""
    part = doc.part.part_related_by(RT.FONT_TABLE)
    root = parse_xml(part.blob)
    for name, alt in FALLBACKS.items():
        root.append(parse_xml(
            f'<w:font {nsdecls("w")} w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
            f'<w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>'))
    # python-docx keeps the font table as an opaque part: replace its bytes.
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page_number(p: Paragraph) -> None:
    p.alignment, p.paragraph_format.first_line_indent = WD_ALIGN_PARAGRAPH.CENTER, Pt(0)
    _run(p, "— ", NUMBER_FONT, 14, latin=NUMBER_FONT)
    run = _run(p, "", NUMBER_FONT, 14, latin=NUMBER_FONT)
    for kind, text in (("begin", None), (None, " PAGE "), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    _run(p, " —", NUMBER_FONT, 14, latin=NUMBER_FONT)


def _run(p: Paragraph, text: str, font: str, size: float, *, bold: bool = False,
         color: RGBColor | None = None, latin: str = LATIN) -> Run:
    run = p.add_run(text)
    set_font(run._r, font, latin)
    run.font.size, run.font.bold = Pt(size), bold
    if color is not None:
        run.font.color.rgb = color
    return run


# --- the writer ---------------------------------------------------------------------


class _Writer:
    def __init__(self, data: ReportData, progress: Callable[[str], None] | None) -> None:
        self.data = data
        self.doc = Document()
        self.say = progress or (lambda _: None)
        self.tables = self.figures = 0
        self.font = charts.cjk_font() if data.kind != "monthly" else None
        _setup(self.doc, data.simulated)

    # -- blocks --

    def heading(self, text: str, level: int = 1) -> None:
        self.doc.add_paragraph(text, style=f"Heading {level}")

    def para(self, text: str) -> None:
        self.doc.add_paragraph(text)

    def caption(self, text: str) -> Paragraph:
        return self.doc.add_paragraph(text, style="Caption")

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
              widths: Sequence[float] | None = None, size: float = 10.5, left: Sequence[int] = (1,)) -> None:
        self.tables += 1
        self.caption(f"表{self.tables} {title}").paragraph_format.keep_with_next = True
        table = self.doc.add_table(rows=1, cols=len(headers))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        tr_pr = table.rows[0]._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:tblHeader"))  # repeat the header row on every page
        for cell, text in zip(table.rows[0].cells, headers, strict=True):
            self._cell(cell, text, size, bold=True, center=True)
            cell._tc.get_or_add_tcPr().append(parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:fill="D9D9D9"/>'))
        for row in rows:
            for i, (cell, text) in enumerate(zip(table.add_row().cells, row, strict=True)):
                self._cell(cell, text, size, center=i not in left)
        table.autofit = False
        widths = widths or _auto_widths(headers, rows, size)
        for column, w in zip(table.columns, widths, strict=True):
            column.width = Cm(w)  # w:gridCol, which LibreOffice and WPS follow
        for row in table.rows:
            for cell, w in zip(row.cells, widths, strict=True):
                cell.width = Cm(w)  # w:tcW, which Word follows

    def _cell(self, cell: object, text: str, size: float, *, bold: bool = False, center: bool = True) -> None:
        p = cell.paragraphs[0]  # type: ignore[attr-defined]
        pf = p.paragraph_format
        pf.first_line_indent, pf.line_spacing_rule = Pt(0), WD_LINE_SPACING.SINGLE
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER if center else WD_ALIGN_PARAGRAPH.LEFT
        _run(p, text, BODY_FONT, size, bold=bold)

    def picture(self, fig: object, title: str) -> None:
        self.figures += 1
        self.doc.add_picture(BytesIO(charts.png(fig)), width=Cm(15))  # type: ignore[arg-type]
        p = self.doc.paragraphs[-1]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pf = p.paragraph_format
        pf.first_line_indent, pf.line_spacing_rule = Pt(0), WD_LINE_SPACING.SINGLE  # exact spacing clips images
        pf.keep_with_next = True
        self.caption(f"图{self.figures} {title}")

    # -- the report --

    def build(self) -> None:
        d = self.data
        p = self.doc.add_paragraph()
        p.alignment, p.paragraph_format.first_line_indent = WD_ALIGN_PARAGRAPH.CENTER, Pt(0)
        p.paragraph_format.line_spacing = Pt(40)
        _run(p, d.plan.title, TITLE_FONT, 22).add_break()
        _run(p, d.kind_name, TITLE_FONT, 22)
        for text, font, color in ((f"（数据截至{c.month_words(d.as_of)}）", H2_FONT, None),
                                  *((("（本报告基于模拟数据 Simulated data）", H1_FONT, RED),) if d.simulated else ())):
            q = self.doc.add_paragraph()
            q.alignment, q.paragraph_format.first_line_indent = WD_ALIGN_PARAGRAPH.CENTER, Pt(0)
            _run(q, text, font, 16, color=color, bold=color is not None)
        self.para("")
        monthly = [self.overview, self.lagging, self.ranking, *([self.reconcile] if d.reconciliation else []), self.advice]
        sections = (monthly if d.kind == "monthly" else
                    [self.overview, self.indicators, self.districts, self.commitments, self.lagging, self.advice])
        for i, section in enumerate(sections, start=1):
            section(c.cn_number(i))

    def overview(self, n: str) -> None:
        d = self.data
        self.heading(f"{n}、总体情况")
        for text in c.summary(d):
            self.para(text)
        self.para(c.method_note(d))
        rows = [[str(i), f"{e.indicator}（{e.unit}）", c.attribute_label(e.attribute), c.num(e.baseline, e.unit),
                 c.num(e.target, e.unit), c.num(e.actual, e.unit), c.completion_text(e).removesuffix("%"),
                 c.pct(e.expected_completion).removesuffix("%") if e.compliance is None else "—", e.status, c.verdict(e)]
                for i, e in enumerate(d.key_evals(), start=1)]
        # Shares without their % sign (it is in the header) so that the numeric columns stay narrow.
        self.table("主要指标完成情况总表",
                   ["序号", "指标名称（单位）", "属性", f"{d.plan.baseline_year}年基数", f"{d.plan.end_year}年目标",
                    "实际", "完成进度(%)", "序时进度(%)", "状态", "研判"],
                   rows, widths=[0.75, 3.3, 1.2, 1.45, 1.25, 1.45, 1.4, 1.4, 1.7, 1.7], size=8)
        if d.kind == "midterm":
            self.para(c.midterm_sentence(d))
            self.para(c.midterm_unit_sentence(d))
            self.table("“时间过半、任务过半”检验", ["指标名称（单位）", "五年目标", "实际", "完成进度", "时间进度", "是否过半"],
                       [[f"{e.indicator}（{e.unit}）", c.num(e.target, e.unit), c.num(e.actual, e.unit), c.pct(e.completion),
                         c.pct(e.time_elapsed), "是" if ok else "否"] for e, ok in c.midterm_rows(d)])
        if d.kind == "annual":
            year = d.as_of // 12
            rows = [[f"{e.indicator}（{e.unit}）", c.num(a["target"], e.unit), c.num(a["actual"], e.unit),
                     c.pct(a["completion"]), c.pct(a["time_elapsed"])]
                    for e in d.key_evals() if e.kind == "cumulative" and (a := e.annual)]
            self.table(f"{year}年度目标完成情况", ["指标名称（单位）", "年度目标", "年度完成", "年度完成率", "时间进度"], rows)

    def indicators(self, n: str) -> None:
        d = self.data
        self.heading(f"{n}、主要指标完成情况")
        key = d.key_evals()
        for i, e in enumerate(key, start=1):
            self.say(f"指标图表 {i}/{len(key)}：{e.indicator}")
            self.heading(f"（{c.cn_number(i)}）{e.indicator}", 2)
            self.para(c.describe(e, years=len(d.plan.years)))
            ind = d.plan.indicator(e.indicator_code)
            what = "变化情况" if e.compliance is not None else "完成情况与序时进度"
            self.picture(charts.trend_figure(ind, d.history.get(ind.code, {}), self.font), f"{ind.name}{what}")

    def districts(self, n: str) -> None:
        d = self.data
        self.heading(f"{n}、分地区完成情况")
        self.para(f"《规划》附件将{len(d.plan.decompositions)}项指标的目标分解到各县（市、区）及功能区，"
                  "各地区完成情况如下（完成进度口径同上，排名按超前或落后序时进度的幅度排列）。")
        for i, dec in enumerate(d.plan.decompositions, start=1):
            ind = d.plan.indicator(dec.indicator)
            evals = d.unit_evals(ind.code)
            self.say(f"分地区 {dec.table}")
            self.heading(f"（{c.cn_number(i)}）{dec.table} {_clean(dec.title)}", 2)
            self.para(_district_sentence(dec, evals))
            self._district_table(dec, evals)
            if evals:
                self.picture(charts.district_figure(dec, ind, evals, self.font), f"{dec.table} {ind.name}分地区完成进度")

    def _district_table(self, dec: Decomposition, evals: list[Evaluation]) -> None:
        f = factor(self.data.plan.indicator(dec.indicator).unit, dec.unit)
        base = [f"{dec.base_year}年基数({dec.unit})"] if dec.base_year else []
        midterm = self.data.kind == "midterm"  # 时间过半、任务过半 per unit
        rows = [[e.org_unit, *([c.num(e.baseline * f if e.baseline is not None else None, dec.unit)] if base else []),
                 c.num(e.target * f, dec.unit), c.num(e.actual * f if e.actual is not None else None, dec.unit),
                 c.pct(e.completion), c.pct(e.expected_completion),
                 f"{e.gap_pp:+.1f}" if e.gap_pp is not None else "—", e.status,
                 f"{e.rank}/{e.rank_of}" if e.rank else "—",
                 *([c.half_done_label(e)] if midterm else [])] for e in evals]
        self.table(f"{dec.table} {_clean(dec.title)}完成情况",
                   ["地区", *base, f"目标({dec.unit})", f"实际({dec.unit})", "完成进度", "序时进度", "差距(百分点)", "状态", "排名",
                    *(["任务过半"] if midterm else [])],
                   rows, left=(0,))

    def ranking(self, n: str) -> None:
        d = self.data
        self.heading(f"{n}、分地区进度排名")
        for i, dec in enumerate(d.plan.decompositions, start=1):
            evals = sorted(d.unit_evals(dec.indicator), key=lambda e: (e.rank is None, e.rank or 0))
            self.heading(f"（{c.cn_number(i)}）{dec.table} {_clean(dec.title)}", 2)
            self.table(f"{dec.table} 分地区进度排名", ["排名", "地区", "完成进度", "序时进度", "差距(百分点)", "状态"],
                       [[str(e.rank or "—"), e.org_unit, c.pct(e.completion), c.pct(e.expected_completion),
                         f"{e.gap_pp:+.1f}" if e.gap_pp is not None else "—", e.status] for e in evals])

    def commitments(self, n: str) -> None:
        entries = ledger.ledger(self.data)
        self.heading(f"{n}、任务台账")
        self.para(ledger.ledger_summary(entries))
        self.table("规划量化任务承诺台账", ["编号", "承诺事项", "时限", "关联指标", "评价结果"],
                   [[x.commitment.id, x.commitment.text, x.due, x.indicator or "—", f"{x.conclusion}：{x.detail}"]
                    for x in entries], widths=[1.5, 4.9, 1.7, 2.7, 4.8], size=9, left=(1, 3, 4))

    def lagging(self, n: str) -> None:
        d = self.data
        lag = d.lagging()
        word = "未完成或未达标" if d.final else "进度滞后或未达标"
        self.heading(f"{n}、{'未完成指标与预警' if d.final else '滞后单位与预警'}")
        if not lag:
            self.para("规划期末，各指标、各地区均已完成。" if d.final else "截至本期，各指标、各地区均未出现滞后。")
            return
        flagged = [e for e in lag if e.escalate]
        city = sum(e.org_unit == d.city for e in lag)
        self.para(f"共有{len(lag)}项“指标—地区”{word}（全市层面{city}项、分地区{len(lag) - city}项），"
                  f"其中约束性指标预警{len(flagged)}项。"
                  + "".join(c.lagging_sentence(e, d.city) + "；" for e in lag[:6]).rstrip("；") + ("等。" if len(lag) > 6 else "。"))
        self.table("未完成指标与预警清单" if d.final else "滞后单位与预警清单", ["序号", "指标", "地区", "属性", "完成进度", "差距", "状态", "预警"],
                   [[str(i), e.indicator, e.org_unit, c.attribute_label(e.attribute), c.completion_text(e),
                     f"{e.gap_pp:+.1f}" if e.gap_pp is not None else "—", e.status,
                     "约束性指标预警" if e.escalate else "—"] for i, e in enumerate(lag, start=1)],
                   size=9, left=(1,))

    def reconcile(self, n: str) -> None:
        """数据会审: districts' reported figures against those computed from the real-name ledgers."""
        rows = self.data.reconciliation
        flagged = [r for r in rows if r.flagged]
        self.heading(f"{n}、数据会审（填报数与实名制自动统计比对）")
        self.para(f"本期对{len({r.indicator for r in rows})}项可由实名制台账自动统计的指标、{len(rows)}个“指标—地区”"
                  f"进行了比对，差异超出容差的{len(flagged)}个"
                  + ("，请相关地区核实填报数据或台账记录。" if flagged else "，填报数与台账统计一致。"))
        if self.data.sampled:
            self.para("注：本期实名制台账为全市记录的抽样，实名制统计数按抽样比例放大推算（样本推算），"
                      "与填报数的小幅差异可能来自抽样误差，容差内的差异不予列出。")
        if flagged:
            self.table("数据会审差异清单", ["序号", "指标", "地区", "比对口径", "填报", "实名制统计", "差异", "差异率"],
                       [[str(i), f"{r.indicator} {r.name}", r.org_unit, r.basis, c.num(r.reported, r.unit),
                         c.num(r.computed, r.unit), c.num(r.difference, r.unit),
                         f"{r.relative:+.1%}" if r.relative is not None else "—"]
                        for i, r in enumerate(flagged[:40], start=1)],
                       size=9, left=(1,))
            if len(flagged) > 40:
                self.para(f"（另有{len(flagged) - 40}项差异，见 Excel 附表“数据会审”。）")

    def advice(self, n: str) -> None:
        self.heading(f"{n}、{'工作建议' if self.data.kind == 'monthly' else '下一步建议'}")
        for i, text in enumerate(c.recommendations(self.data), start=1):
            self.para(f"（{c.cn_number(i)}）{text}")


def _auto_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], size: float = 10.5) -> list[float]:
    """Column widths (cm) that fit each column's longest cell, filling the text width.

    A half-width character is taken as 0.65 em and a CJK character as 1 em at `size` pt,
    plus the cell padding. Short columns (numbers, status) get what they need so that
    they do not wrap; if the table is too wide, only the long text columns give way.
    Headers may wrap, so they ask for two CJK characters at most.
    """
    def units(text: str) -> float:  # in em
        return sum(1.0 if ord(ch) > 0x2E80 else 0.65 for ch in text)
    em_cm = size / 72 * 2.54
    need = [max(min(units(h), 2.0), *(units(r[i]) for r in rows), 1.0) * em_cm + 0.5 for i, h in enumerate(headers)]
    total = TEXT_WIDTH.cm
    if sum(need) <= total:
        return [n + (total - sum(need)) * n / sum(need) for n in need]
    fixed = [n for n in need if n <= total / len(need)]
    room = total - sum(fixed)
    wide = sum(n for n in need if n > total / len(need))
    if room <= 0 or wide == 0:
        return [total * n / sum(need) for n in need]
    return [n if n <= total / len(need) else n * room / wide for n in need]


def _clean(title: str) -> str:
    """“十四五”城镇新增就业人数(单位:人) → “十四五”城镇新增就业人数."""
    for sep in ("(单位", "（单位"):
        title = title.split(sep)[0]
    return title.strip()


def _district_sentence(dec: Decomposition, evals: list[Evaluation]) -> str:
    scored = [e for e in evals if e.completion is not None]
    if not scored:
        return f"{dec.table}涉及{len(evals)}个地区，暂无数据。"
    best, worst = max(scored, key=lambda e: e.completion or 0.0), min(scored, key=lambda e: e.completion or 0.0)
    lag = [e.org_unit for e in scored if e.status in c.LAGGING]
    text = (f"{dec.table}分解到{len(evals)}个地区。完成进度最高的是{best.org_unit}（{c.pct(best.completion)}），"
            f"最低的是{worst.org_unit}（{c.pct(worst.completion)}）")
    return text + (f"；{'、'.join(lag)}进度滞后或未完成。" if lag else "；各地区均未滞后。")


def write_docx(data: ReportData, path: Path, progress: Callable[[str], None] | None = None) -> Path:
    writer = _Writer(data, progress)
    writer.build()
    writer.doc.save(str(path))
    return path
