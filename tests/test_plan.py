"""The plan as data: the shipped plan file reproduces the seed's tables exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from hrss.cli import app
from hrss.plan.check import check_plan
from hrss.plan.export import export_plan
from hrss.plan.model import Plan
from hrss.plan.planfile import (
    dump_plan,
    load_commitments,
    load_english_names,
    load_org_units,
    load_plan,
    plan_from_dict,
    plan_to_dict,
    shipped_dir,
)
from hrss.plan.textparse import parse_plan_text

SEED = shipped_dir() / "source.txt"
runner = CliRunner()


def _seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").splitlines()


def _heading_line(heading: str) -> int:
    """The last line starting with heading (annex tables come after the main ones)."""
    lines = _seed_lines()
    return max(i for i, line in enumerate(lines) if line.startswith(heading))


def _block(heading: str) -> list[list[str]]:
    """Rows (tab-split) of the table whose heading line starts with `heading`, read naively."""
    lines = _seed_lines()
    start = _heading_line(heading)
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            if rows:
                break
            continue
        if "\t" not in line:
            break
        rows.append(line.split("\t"))
    return rows[1:]  # drop the header


def test_shipped_plan_is_generated_from_the_seed() -> None:
    d = shipped_dir()
    parsed = parse_plan_text(
        SEED.read_text(encoding="utf-8"),
        org_units=load_org_units(d / "org_units.yaml"),
        commitments=load_commitments(d / "commitments.yaml"),
        plan_id="xuzhou-2021-2025",
        names_en=load_english_names(d / "names_en.yaml"),
    )
    assert parsed == load_plan()
    assert dump_plan(parsed) == (d / "plan.yaml").read_text(encoding="utf-8")


def test_plan_file_round_trips(plan: Plan) -> None:
    assert plan_from_dict(yaml.safe_load(dump_plan(plan))) == plan


def test_key_indicators_match_table_2(plan: Plan) -> None:
    rows = [r for r in _block("表2：“十四五”人力资源") if re.match(r"^\d+\.", r[0])]
    assert len(rows) == 19
    exported = export_plan(plan)["indicators"]
    assert len(exported) == 19
    for row, ind in zip(rows, exported, strict=True):
        name = re.sub(r"^\d+\.", "", row[0])
        assert name == f"{ind['name']}({ind['unit']})"
        base = row[1].strip()
        assert ind["baseline"]["value"] == (None if base.startswith("-") else float(base))
        target_number = float(re.search(r"[\d.]+", row[2]).group(0))
        assert ind["target"]["value"] == target_number
        assert ind["attribute"] == ("binding" if row[3].startswith("约束") else "expected")
    by_name = {i["name"]: i for i in exported}
    assert by_name["城镇新增就业人数"]["target"] == {"year": 2025, "value": 37.5, "kind": "cumulative"}
    assert by_name["城镇新增就业人数"]["note"] == "新口径"
    assert by_name["城镇登记失业率"]["target"]["kind"] == "ceiling"
    assert by_name["城乡基本养老保险参保缴费率"]["target"]["kind"] == "floor"
    assert by_name["城乡基本养老保险参保人数"]["target"]["kind"] == "level"
    assert by_name["劳动人事争议仲裁结案率"]["target"]["kind"] == "floor"
    assert by_name["申领电子社保卡人口覆盖率"]["baseline"]["value"] is None
    assert sum(i["attribute"] == "binding" for i in exported) == 4


def test_history_matches_table_1(plan: Plan) -> None:
    rows = [r for r in _block("表1：“十三五”") if re.match(r"^\d+\.", r[0])]
    history = export_plan(plan)["history"]
    assert len(rows) == len(history) == 20
    for row, h in zip(rows, history, strict=True):
        assert h["target"]["raw"] == row[1].strip()
        assert h["result"]["raw"] == row[2].strip()
    assert history[11]["target"]["raw"] == "13:41:46" and history[11]["target"]["kind"] == "ratio"
    assert history[3]["result"] == {"raw": "≥70", "value": 70, "kind": "floor"}


def test_every_annex_number_is_exported(plan: Plan) -> None:
    exported = {d["table"]: d for d in export_plan(plan)["decompositions"]}
    assert len(exported) == 9
    for n in range(1, 10):
        table = exported[f"附件表{n}"]
        rows = _block(f"表{n}：“十四五”")
        cells = {(v["org_unit"], v["year"]): v["value"] for v in table["values"]}
        totals = {t["org_unit"]: t["value"] for t in table["totals"]}
        header_years = [int(y) for y in re.findall(r"\d{4}", " ".join(_annex_header(n)))]
        for row in rows:
            unit = re.sub(r"\s+", "", row[0])
            for year, raw in zip(header_years, row[1:], strict=False):
                assert cells[(unit, year)] == float(raw), (n, unit, year)
            if len(row) - 1 > len(header_years):
                assert totals[unit] == float(row[-1]), (n, unit)
        assert len(cells) == len(rows) * len(header_years)


def _annex_header(n: int) -> list[str]:
    lines = _seed_lines()
    start = _heading_line(f"表{n}：“十四五”")
    header = next(line for line in lines[start + 1 :] if line.strip())
    return header.split("\t")[1:]


def test_annex_units_follow_the_headings(plan: Plan) -> None:
    units = {d.table: d.unit for d in plan.decompositions}
    assert units == {
        "附件表1": "人", "附件表2": "万人", "附件表3": "场次", "附件表4": "人", "附件表5": "万元",
        "附件表6": "万人", "附件表7": "万人", "附件表8": "万人", "附件表9": "人",
    }
    assert {d.table: d.base_year for d in plan.decompositions if d.base_year} == {
        "附件表6": 2020, "附件表7": 2020, "附件表8": 2020,
    }


def test_org_units_and_groups(plan: Plan) -> None:
    assert plan.org_unit("邳州市").gb_code == "320382"
    assert plan.org_unit("淮海国际港务区").name == "港务区"
    assert plan.org_unit("市区 (含贾汪)").name == "市区(含贾汪)"
    assert set(plan.org_unit("主城区").members) == {"鼓楼区", "云龙区", "泉山区", "经开区", "高新区", "港务区"}
    assert set(plan.org_unit("开发区").members) == {"经开区", "高新区"}
    reporting = [u.name for u in plan.org_units if u.kind not in ("group", "city")]
    assert len(reporting) == 14  # 5 counties/cities, 5 districts, 3 zones, 市直


def _seed_pieces(sentence: str, text: str) -> list[str]:
    """sentence cut into the fewest verbatim pieces of text, longest first (greedy)."""
    pieces, rest = [], sentence
    while rest:
        n = next((n for n in range(len(rest), 0, -1) if rest[:n] in text), 0)
        assert n, f"{rest!r} is not in the plan text"
        pieces.append(rest[:n])
        rest = rest[n:]
    return pieces


def test_commitments_are_whole_sentences_of_the_text(plan: Plan) -> None:
    text = SEED.read_text(encoding="utf-8").replace("\n", "")
    assert len(plan.commitments) >= 50
    for c in plan.commitments:
        quantity = f"{format(c.value, 'g')}{c.unit}"
        assert re.search(rf"(?<![\d.]){re.escape(quantity)}", c.text), (c.id, c.text)
        # a whole sentence: its own subject, not the tail or middle of one (、100万人、, 达到90%)
        assert not re.match(r"[\d\W_]", c.text) or c.text.startswith("“"), (c.id, c.text)
        assert not c.text.startswith(("分别", "达到", "达", "为", "和", "及", "或", "少于", "不少于", "不低于", "超过")), (c.id, c.text)
        assert "分别" not in c.text and not re.search(r"[、，,。；;：:]$", c.text), (c.id, c.text)
        # in the plan's own words: at most three pieces of the text (subject, verb, quantity)
        assert len(_seed_pieces(c.text, text)) <= 3, (c.id, _seed_pieces(c.text, text))
        assert c.due in {"per_year", "period", "every_2_years"} or re.fullmatch(r"by_20\d\d", c.due), c.id
    ids = {c.id: c for c in plan.commitments}
    assert ids["C001"].value == 37.5
    # 城乡基本养老、失业、工伤保险参保人数分别达到375万人、100万人、117万人, 缴费率达到90%: one each
    assert [(ids[i].text, ids[i].value, ids[i].indicator) for i in ("C005", "C006", "C007", "C008")] == [
        ("城乡基本养老保险参保人数达到375万人", 375, "I06"),
        ("失业保险参保人数达到100万人", 100, "I07"),
        ("工伤保险参保人数达到117万人", 117, "I08"),
        ("城乡基本养老保险参保缴费率达到90%", 90, "I09"),
    ]
    milestones = {i.code: [(m.year, m.value) for m in i.milestones] for i in plan.indicators if i.milestones}
    assert milestones == {"I09": [(2023, 88)], "I18": [(2023, 55)]}


def test_plan_check_passes_on_the_shipped_plan(plan: Plan) -> None:
    assert check_plan(plan) == []


def test_plan_check_reports_an_altered_copy_precisely(plan: Plan, tmp_path: Path) -> None:
    data = plan_to_dict(plan)
    table1 = next(d for d in data["decompositions"] if d["table"] == "附件表1")
    row = next(r for r in table1["rows"] if r["org_unit"] == "丰县")
    row["values"][2021] = 2400  # the seed says 2300
    table6 = next(d for d in data["decompositions"] if d["table"] == "附件表6")
    table6["total_row"]["values"][2020] = 356.9  # the seed (and 表2's baseline) say 356.95
    altered = tmp_path / "plan.yaml"
    altered.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    result = runner.invoke(app, ["plan", "check", "--file", str(altered)])
    assert result.exit_code == 1
    out = result.output
    # 丰县's years now add up to 11600, not its 合计 11500:
    assert "附件表1 行「丰县」列「合计」" in out and "应为 11600, 实为 11500" in out
    # the 2021 column now adds up to 75100, not the 合计 row's 75000:
    assert "附件表1 行「合计」列「2021」" in out and "应为 75100, 实为 75000" in out
    # 表6's 2020 合计 no longer adds up, nor matches 表2's baseline 356.95:
    assert "附件表6 行「合计」列「2020」" in out and "2020年基数不符" in out


def test_plan_export_json_contract(cli_env: str) -> None:
    result = runner.invoke(app, ["plan", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"indicators", "history", "decompositions", "commitments", "org_units"}
    ind = data["indicators"][0]
    assert set(ind) >= {"code", "name", "category", "unit", "baseline", "target", "attribute", "note"}
    assert ind["baseline"] == {"year": 2020, "value": 8.8}
    dec = data["decompositions"][0]
    assert set(dec) >= {"table", "title", "unit", "indicator", "values"}
    assert dec["indicator"] == "城镇新增就业人数" and dec["unit"] == "人"
    assert {"org_unit": "丰县", "year": 2021, "value": 2300} in dec["values"]
    assert set(data["commitments"][0]) >= {"section", "text", "value", "unit", "due"}
    assert set(data["org_units"][0]) >= {"code", "name", "kind", "members"}


OTHER_PLAN = """示例市“十五五”人力资源和社会保障发展规划

示府办〔2026〕1号

表2：“十五五”人力资源和社会保障事业发展主要指标

分类、指标\t2025年 基数\t“十五五” 规划目标\t属性
一、就业创业\t\t\t
1.城镇新增就业人数(万人)\t0.9\t[4]\t预期性
2.城镇调查失业率(%)\t5.1\t5.5以内\t预期性
二、社会保障\t\t\t
3.失业保险参保人数(万人)\t100\t110\t约束性

附件

表1：“十五五”城镇新增就业人数(单位:人)

地区 \\ 年度\t2026\t2027\t2028\t2029\t2030\t合计
甲县\t3000\t3000\t3000\t3000\t3000\t15000
乙区\t5000\t5000\t5000\t5000\t5000\t25000
合计\t8000\t8000\t8000\t8000\t8000\t40000

0001\t0001\t0001
"""

OTHER_UNITS = """org_units:
  - {code: "999900", name: 示例市, kind: city, reports: false, members: [甲县, 乙区]}
  - {code: "999901", name: 甲县, kind: county}
  - {code: "999902", name: 乙区, kind: district}
"""


def test_import_text_loads_another_plan_in_the_same_style(tmp_path: Path, cli_env: str) -> None:
    source = tmp_path / "other.txt"
    source.write_text(OTHER_PLAN, encoding="utf-8")
    units = tmp_path / "units.yaml"
    units.write_text(OTHER_UNITS, encoding="utf-8")
    out = tmp_path / "other.yaml"
    result = runner.invoke(app, ["plan", "import-text", str(source), "--org-units", str(units), "--id", "demo-2026-2030", "--out", str(out)])
    assert result.exit_code == 0, result.output
    other = load_plan(out)
    assert (other.start_year, other.end_year, other.city) == (2026, 2030, "示例市")
    assert [i.code for i in other.indicators] == ["I01", "I02", "I03"]
    assert other.indicator("I02").kind.value == "ceiling" and other.indicator("I02").target == 5.5
    assert other.decompositions[0].row("乙区").total == 25000
    assert check_plan(other) == []  # annex 合计 40000 人 = 表2 target [4] 万人


def test_import_text_load_is_audited(tmp_path: Path, cli_env: str) -> None:
    source = tmp_path / "other.txt"
    source.write_text(OTHER_PLAN, encoding="utf-8")
    units = tmp_path / "units.yaml"
    units.write_text(OTHER_UNITS, encoding="utf-8")
    args = ["plan", "import-text", str(source), "--org-units", str(units), "--id", "demo-2026-2030",
            "--out", str(tmp_path / "other.yaml"), "--load"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    show = runner.invoke(app, ["audit", "show"])
    assert show.exit_code == 0, show.output
    assert "载入规划 plan.loaded" in show.output and "plan#demo-2026-2030" in show.output and "other.txt" in show.output
    assert "1 条" in runner.invoke(app, ["audit", "verify"]).output


def test_import_text_flags_a_plan_whose_annex_disagrees(tmp_path: Path) -> None:
    bad = OTHER_PLAN.replace("乙区\t5000\t5000", "乙区\t5000\t5500")
    parsed = parse_plan_text(bad, org_units=[*_units(tmp_path)], commitments=[])
    messages = [str(p) for p in check_plan(parsed)]
    assert any("附件表1 行「乙区」列「合计」" in m for m in messages)
    assert any("附件表1 行「合计」列「2027」" in m for m in messages)


def _units(tmp_path: Path) -> list:
    path = tmp_path / "u.yaml"
    path.write_text(OTHER_UNITS, encoding="utf-8")
    return load_org_units(path)
