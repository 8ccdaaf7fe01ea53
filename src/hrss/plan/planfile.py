"""Read and write the plan file: one readable, versioned YAML document per plan."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hrss.plan.model import (
    Aggregation,
    Attribute,
    Commitment,
    Decomposition,
    DecompositionRow,
    HistoryRow,
    Indicator,
    Milestone,
    OrgUnit,
    Plan,
    Quantity,
    TargetKind,
)

FORMAT_VERSION = 1
SHIPPED_PLAN = "xuzhou-2021-2025"


def shipped_dir(name: str = SHIPPED_PLAN) -> Path:
    return Path(str(resources.files("hrss") / "data" / name))


def shipped_plan_path() -> Path:
    return shipped_dir() / "plan.yaml"


class PlanFileError(ValueError):
    pass


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    f = float(v)
    return int(f) if f.is_integer() else f


def _quantity(q: Quantity) -> dict[str, Any]:
    return {"raw": q.raw, "value": _num(q.value), "kind": q.kind.value if q.kind else None}


def _row(r: DecompositionRow) -> dict[str, Any]:
    out: dict[str, Any] = {"org_unit": r.org_unit, "values": {y: _num(v) for y, v in r.values.items()}}
    if r.total is not None:
        out["total"] = _num(r.total)
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "plan": {
            "id": plan.id,
            "title": plan.title,
            "document": plan.document,
            "city": plan.city,
            "baseline_year": plan.baseline_year,
            "start_year": plan.start_year,
            "end_year": plan.end_year,
            **({"title_en": plan.title_en} if plan.title_en else {}),
        },
        "org_units": [
            {
                "code": u.code,
                "gb_code": u.gb_code,
                "name": u.name,
                "full_name": u.full_name,
                "kind": u.kind,
                "aliases": list(u.aliases),
                "members": list(u.members),
                "reports": u.reports,
            }
            for u in plan.org_units
        ],
        "indicators": [
            {
                "code": i.code,
                "number": i.number,
                "name": i.name,
                "category": i.category,
                "unit": i.unit,
                "source": i.source,
                "baseline": {"year": i.baseline_year, "value": _num(i.baseline), "raw": i.baseline_raw},
                "target": {
                    "year": i.target_year,
                    "value": _num(i.target),
                    "kind": i.kind.value,
                    "raw": i.target_raw,
                },
                "attribute": i.attribute.value,
                "aggregation": i.aggregation.value,
                "scale": _num(i.scale),
                "note": i.note,
                **({"name_en": i.name_en} if i.name_en else {}),
                "milestones": [
                    {"year": m.year, "value": _num(m.value), "source": m.source} for m in i.milestones
                ],
            }
            for i in plan.indicators
        ],
        "history": [
            {
                "number": h.number,
                "name": h.name,
                "category": h.category,
                "unit": h.unit,
                "target": _quantity(h.target),
                "result": _quantity(h.result),
            }
            for h in plan.history
        ],
        "decompositions": [
            {
                "table": d.table,
                "title": d.title,
                "unit": d.unit,
                "indicator": d.indicator,
                "years": list(d.years),
                "base_year": d.base_year,
                "has_total_column": d.has_total_column,
                "rows": [_row(r) for r in d.rows],
                "total_row": _row(d.total_row),
            }
            for d in plan.decompositions
        ],
        "commitments": [commitment_to_dict(c) for c in plan.commitments],
    }


def commitment_to_dict(c: Commitment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "section": c.section,
        "text": c.text,
        "value": _num(c.value),
        "unit": c.unit,
        "comparator": c.comparator,
        "due": c.due,
        "area": c.area,
    }
    if c.indicator:
        out["indicator"] = c.indicator
    return out


def _q(d: dict[str, Any]) -> Quantity:
    return Quantity(d["raw"], d["value"], TargetKind(d["kind"]) if d["kind"] else None)


def _r(d: dict[str, Any]) -> DecompositionRow:
    return DecompositionRow(d["org_unit"], {int(y): v for y, v in d["values"].items()}, d.get("total"))


def org_unit_from_dict(d: dict[str, Any]) -> OrgUnit:
    return OrgUnit(
        code=str(d["code"]),
        name=d["name"],
        kind=d["kind"],
        gb_code=str(d["gb_code"]) if d.get("gb_code") else None,
        full_name=d.get("full_name", "") or "",
        aliases=tuple(d.get("aliases", ()) or ()),
        members=tuple(d.get("members", ()) or ()),
        reports=bool(d.get("reports", True)),
    )


def commitment_from_dict(d: dict[str, Any]) -> Commitment:
    return Commitment(
        id=d["id"],
        section=d["section"],
        text=d["text"],
        value=d["value"],
        unit=d["unit"],
        comparator=d["comparator"],
        due=d["due"],
        area=d["area"],
        indicator=d.get("indicator"),
    )


def plan_from_dict(data: dict[str, Any]) -> Plan:
    if data.get("format") != FORMAT_VERSION:
        raise PlanFileError(f"不支持的规划文件格式 (unsupported plan file format): {data.get('format')!r}")
    p = data["plan"]
    return Plan(
        id=p["id"],
        title=p["title"],
        document=p["document"],
        city=p["city"],
        baseline_year=p["baseline_year"],
        start_year=p["start_year"],
        end_year=p["end_year"],
        org_units=tuple(org_unit_from_dict(u) for u in data["org_units"]),
        indicators=tuple(
            Indicator(
                code=i["code"],
                number=i["number"],
                name=i["name"],
                category=i["category"],
                unit=i["unit"],
                source=i["source"],
                baseline_year=i["baseline"]["year"],
                baseline=i["baseline"]["value"],
                baseline_raw=i["baseline"]["raw"],
                target_year=i["target"]["year"],
                target=i["target"]["value"],
                kind=TargetKind(i["target"]["kind"]),
                target_raw=i["target"]["raw"],
                attribute=Attribute(i["attribute"]),
                aggregation=Aggregation(i["aggregation"]),
                scale=float(i["scale"]),
                note=i["note"],
                name_en=i.get("name_en", ""),
                milestones=tuple(
                    Milestone(m["year"], m["value"], m["source"]) for m in i["milestones"]
                ),
            )
            for i in data["indicators"]
        ),
        history=tuple(
            HistoryRow(h["number"], h["name"], h["category"], h["unit"], _q(h["target"]), _q(h["result"]))
            for h in data["history"]
        ),
        decompositions=tuple(
            Decomposition(
                table=d["table"],
                title=d["title"],
                unit=d["unit"],
                indicator=d["indicator"],
                years=tuple(d["years"]),
                base_year=d["base_year"],
                has_total_column=d["has_total_column"],
                rows=tuple(_r(r) for r in d["rows"]),
                total_row=_r(d["total_row"]),
            )
            for d in data["decompositions"]
        ),
        commitments=tuple(commitment_from_dict(c) for c in data.get("commitments", ())),
        title_en=p.get("title_en", ""),
    )


def dump_plan(plan: Plan) -> str:
    header = (
        f"# {plan.title} ({plan.document}), {plan.start_year}–{plan.end_year}.\n"
        "# Generated by `hrss plan import-text` from source.txt with org_units.yaml,\n"
        "# commitments.yaml and names_en.yaml; edit those, then regenerate. A test checks that they agree.\n"
    )
    return header + yaml.safe_dump(plan_to_dict(plan), allow_unicode=True, sort_keys=False, width=120)


def load_plan(path: Path | None = None) -> Plan:
    path = path or shipped_plan_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PlanFileError(f"无法读取规划文件 {path} (cannot read plan file): {exc}") from exc
    return plan_from_dict(data)


def load_org_units(path: Path) -> list[OrgUnit]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [org_unit_from_dict(u) for u in data["org_units"]]


def load_english_names(path: Path) -> dict[str, str]:
    """English names kept beside the plan: {"title": …, "I01": "Urban jobs created", …}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise PlanFileError(f"{path.name}: 英文名称文件应为「代码: 名称」 (expected code: name pairs)")
    return data


def load_commitments(path: Path) -> list[Commitment]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [commitment_from_dict(c) for c in data["commitments"]]
