"""What routes get by dependency injection: the parsed request and the model that serves it.

Each route names what it needs as a typed `Annotated` dependency (SampleQueryDep, SampleModelDep, ...), so it
reads parse -> await -> return. FastAPI resolves a dependency once per request, however many others use it: the
model's dependency reuses the parsed query or body. All are async although they await nothing: FastAPI runs a
plain function dependency in its thread pool, a thread hop for every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.engine.engine import Engine
from app.engine.store import ModelStore
from app.http.queries import Query, parse_query
from app.http.schemas import NextQuery, SampleQuery, ScoreBatchRequest, ScoreRequest


def loaded_store(request: Request) -> ModelStore:
    """The model store startup built; 503 before it has."""
    store: ModelStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "the models are not loaded yet", headers={"Retry-After": "1"})
    return store


async def model_store(request: Request) -> ModelStore:
    return loaded_store(request)


StoreDep = Annotated[ModelStore, Depends(model_store)]
PARSED_QUERY = "namegen.query"  # the scope key of the request's parsed query


def served_model(request: Request, store: ModelStore, name: str | None) -> Engine:
    """The named model, or the default one for None (UnknownModel, a 404 listing the served names, if no
    model has that name); the request's metrics carry its name."""
    engine = store.engine(name)
    request.state.model = engine.name
    return engine


# -- the parsed requests: query strings by app.http.queries (unknown and repeated parameters are 422s), bodies
# by FastAPI.


def parsed_query(request: Request, model: type[Query]) -> Query:
    """The query string parsed by `model`, once per request: the query and the model dependencies both need it,
    and a plain function costs less than one more dependency for FastAPI to resolve (a cost every request pays)."""
    parsed = request.scope.get(PARSED_QUERY)
    if not isinstance(parsed, model):
        parsed = request.scope[PARSED_QUERY] = parse_query(request, model)
    return parsed


async def sample_query(request: Request) -> SampleQuery:
    return parsed_query(request, SampleQuery)


async def next_query(request: Request) -> NextQuery:
    return parsed_query(request, NextQuery)


async def score_body(body: ScoreRequest) -> ScoreRequest:
    return body


async def score_batch_body(body: ScoreBatchRequest) -> ScoreBatchRequest:
    return body


SampleQueryDep = Annotated[SampleQuery, Depends(sample_query)]
NextQueryDep = Annotated[NextQuery, Depends(next_query)]
ScoreBodyDep = Annotated[ScoreRequest, Depends(score_body)]
ScoreBatchBodyDep = Annotated[ScoreBatchRequest, Depends(score_batch_body)]


# -- the model each request names: 503 before the models are loaded, then a bad request is a 422 before an
# unknown model is a 404. (The store and a query are read by plain functions, not as dependencies of their own:
# each dependency FastAPI resolves is a cost every request pays.)


async def sample_model(request: Request) -> Engine:
    store = loaded_store(request)
    return served_model(request, store, parsed_query(request, SampleQuery).model)


async def next_model(request: Request) -> Engine:
    store = loaded_store(request)
    return served_model(request, store, parsed_query(request, NextQuery).model)


async def score_model(request: Request, body: ScoreBodyDep) -> Engine:
    return served_model(request, loaded_store(request), body.model)


async def score_batch_model(request: Request, body: ScoreBatchBodyDep) -> Engine:
    return served_model(request, loaded_store(request), body.model)


SampleModelDep = Annotated[Engine, Depends(sample_model)]
NextModelDep = Annotated[Engine, Depends(next_model)]
ScoreModelDep = Annotated[Engine, Depends(score_model)]
ScoreBatchModelDep = Annotated[Engine, Depends(score_batch_model)]
