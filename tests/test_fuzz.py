"""Property-based API fuzzing with schemathesis against the app's own OpenAPI schema.

Every operation gets schema-valid and schema-invalid requests (all generation modes) and every response is run
through all of schemathesis's checks: no 5xx, status codes, content types, headers and bodies as documented,
invalid data rejected, unsupported methods answered 405 ...

One built-in check is replaced by a stricter-where-it-matters version: `positive_data_acceptance` expects every
schema-valid request to be accepted, but some rules are not expressible in the schema and are 422 by design
(characters outside the model's vocabulary, n above the max_n setting, a prefix longer than max_length). The
replacement still fails when a schema-valid request is refused by *type or range validation*, i.e. whenever
the schema and the validation disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from app.main import create_app

APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# What a schema-valid request may be refused with: the engine's checks against the settings, the vocabulary and
# other fields (app/engine/engine.py, app/engine/textrules.py), and the constraints' compiler
# (app/engine/sample_checks.py, app/engine/patterns.py). Any other type is pydantic's type or range
# validation, and means the schema promised too much.
SEMANTIC_ERROR_TYPES = {
    "too_big",
    "order",
    "empty",
    "too_long",
    "outside_vocabulary",
    "batch_size",
    "conflict",
    "pattern",
    "too_complex",
    "unsatisfiable",
}
INTERNAL_MARKERS = (b"Traceback", b"/work/", b"site-packages", b'File "')

# Hundreds of requests per operation: minutes on a busy machine, so `make test` runs it and `make check` does not.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def started_app() -> Iterator[None]:
    with TestClient(APP):  # runs the lifespan: model loaded and warmed up
        yield


def schema_valid_requests_pass_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    detail = response.json()["detail"]
    assert all(problem["type"] in SEMANTIC_ERROR_TYPES for problem in detail), (
        f"a schema-valid request failed type/range validation: {detail}"
    )
    assert detail, "a 422 must say what is wrong"
    return None


def nothing_internal_in_responses(ctx: Any, response: Any, case: Any) -> bool | None:
    for marker in INTERNAL_MARKERS:
        assert marker not in response.content, f"{marker!r} leaked into a response"
    return None


@schema.parametrize()
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_schema_and_never_fails(case: Any) -> None:
    case.call_and_validate(
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_requests_pass_validation, nothing_internal_in_responses],
    )
