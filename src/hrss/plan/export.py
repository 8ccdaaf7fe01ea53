"""`hrss plan export --format json`: the plan as one JSON object (a contract other tools script against)."""

from __future__ import annotations

from typing import Any

from hrss.plan.model import Plan, Quantity


def _q(q: Quantity) -> dict[str, Any]:
    return {"raw": q.raw, "value": q.value, "kind": q.kind.value if q.kind else None}


def export_plan(plan: Plan) -> dict[str, Any]:
    names = {i.code: i.name for i in plan.indicators}

    def indicator(i: Any) -> dict[str, Any]:
        return {
            "code": i.code,
            "name": i.name,
            "category": i.category,
            "unit": i.unit,
            "baseline": {"year": i.baseline_year, "value": i.baseline},
            "target": {"year": i.target_year, "value": i.target, "kind": i.kind.value},
            "attribute": i.attribute.value,
            "note": i.note,
            "aggregation": i.aggregation.value,
            "source": i.source,
            "milestones": [{"year": m.year, "value": m.value} for m in i.milestones],
        }

    return {
        "plan": {
            "id": plan.id, "title": plan.title, "document": plan.document, "city": plan.city,
            "baseline_year": plan.baseline_year, "start_year": plan.start_year, "end_year": plan.end_year,
        },
        "indicators": [indicator(i) for i in plan.key_indicators],
        "annex_indicators": [indicator(i) for i in plan.indicators if i.source != "表2"],
        "history": [
            {"number": h.number, "name": h.name, "category": h.category, "unit": h.unit,
             "target": _q(h.target), "result": _q(h.result)}
            for h in plan.history
        ],
        "decompositions": [
            {
                "table": d.table,
                "title": d.title,
                "unit": d.unit,
                "indicator": names[d.indicator],
                "indicator_code": d.indicator,
                "base_year": d.base_year,
                "values": [
                    {"org_unit": r.org_unit, "year": y, "value": v}
                    for r in (*d.rows, d.total_row)
                    for y, v in r.values.items()
                ],
                "totals": [
                    {"org_unit": r.org_unit, "value": r.total}
                    for r in (*d.rows, d.total_row)
                    if r.total is not None
                ],
            }
            for d in plan.decompositions
        ],
        "commitments": [
            {"id": c.id, "section": c.section, "text": c.text, "value": c.value, "unit": c.unit,
             "comparator": c.comparator, "due": c.due, "area": c.area, "indicator": c.indicator}
            for c in plan.commitments
        ],
        "org_units": [
            {"code": u.code, "name": u.name, "kind": u.kind, "members": list(u.members),
             "gb_code": u.gb_code, "full_name": u.full_name}
            for u in plan.org_units
        ],
    }
