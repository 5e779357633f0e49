"""Query strings parsed through a pydantic model in one call, with the API's 422 shape.

FastAPI's own query-model path walks the fields in Python first, a cost every request pays, and ignores
parameters it does not know; here an unknown or repeated parameter is a 422 (a misspelt `prefx=` must not
silently give an answer to another question)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Query = TypeVar("Query", bound=BaseModel)


def parse_query(request: Request, model: type[Query]) -> Query:
    """The request's query string validated by `model` (which should forbid extra fields)."""
    params = request.query_params
    if len(params) != len(params.multi_items()):  # the same name twice: which one was meant is not ours to guess
        repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
        raise RequestValidationError(
            [
                {"loc": ("query", k), "msg": f"{k} is given more than once; give it once", "type": "repeated"}
                for k in repeated
            ]
        )
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:  # the same 422 as FastAPI's own validation: loc starts with "query"
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI query parameters (for routes that parse their query themselves)."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "schema": field,
            "description": field.get("description", ""),
        }
        for name, field in schema["properties"].items()
    ]
