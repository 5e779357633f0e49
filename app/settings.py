"""Service settings, read from the environment (prefix NAMEGEN_)."""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.engine.limits import DEFAULT_CACHE_CONTEXTS, EngineLimits

SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "model_artifacts"
SHIPPED_MODEL = SHIPPED_MODELS / "names-mlp.pt"  # the default model of the shipped store
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_limit() -> float | None:
    """The CPUs this process's cgroup may use (its CFS quota over its period), or None when unlimited or unknown.

    A container limited to 1 CPU still sees every core of its node in sched_getaffinity; the quota is the limit.
    """
    root = CGROUP_ROOT
    try:
        quota, period = (root / "cpu.max").read_text().split()  # cgroup v2: "max 100000" or "150000 100000"
    except (OSError, ValueError):
        try:  # cgroup v1: a quota of -1 is no limit
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if not (quota.isdigit() and period.isdigit()) or int(period) == 0:
        return None
    return int(quota) / int(period)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAMEGEN_", frozen=True)

    # What to serve.
    model_path: Path = Field(
        default=SHIPPED_MODELS,
        description="a model file, or a directory whose *.pt files are all served, each named by its file stem",
    )
    default_model: str | None = Field(
        default=None,
        min_length=1,
        description="the model a request that names none gets (default: names-mlp if served, else the first name)",
    )

    # How to serve it (python -m app.http.serve).
    host: str = Field(default="127.0.0.1", description="interface to bind; the container sets 0.0.0.0")
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    torch_threads: int = Field(default=1, ge=1, le=256, description="torch intra-op threads per worker")
    sampler_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="threads that compute a large sampling step's new contexts in parallel shares, per worker; "
        "0: the usable cores / workers",
    )
    cache_contexts: int = Field(
        default=DEFAULT_CACHE_CONTEXTS,
        ge=1,
        le=16_777_213,
        description="slots of each model's per-context distribution cache (each vocab_size float32s; 57 MB per "
        "27-character model at the default)",
    )
    warm_names: int = Field(
        default=20_000,
        ge=0,
        le=1_000_000,
        description="names each model draws at startup, before ready, to fill its context cache (0: one small draw)",
    )
    loop: Literal["auto", "asyncio", "uvloop"] = Field(default="auto", description="event loop implementation")

    # What one connection may hold (app/http/protocol.py): each bound is enforced before the app sees the request.
    max_connections: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="open connections per worker; one more is answered 503 with Retry-After and closed",
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="request line and headers; larger is 431 and closed"
    )
    header_timeout_seconds: float = Field(
        default=10.0, ge=0.1, le=300, description="from a request's first byte to the end of its headers; then 408"
    )
    body_timeout_seconds: float = Field(
        default=20.0, ge=0.1, le=300, description="from the end of the headers to the end of the body; then 408"
    )
    # Behind a proxy, set it above the proxy's own idle timeout: the side that closes an idle connection first
    # can race a request just sent on it.
    send_timeout_seconds: float = Field(
        default=20.0,
        ge=0.1,
        le=300,
        description="a response the client stops reading is dropped, and the connection closed, after this",
    )
    keep_alive_seconds: float = Field(
        default=20.0,
        ge=0.1,
        le=300,
        description="a connection that starts no request this long after opening or after its last response is closed",
    )
    drain_seconds: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="after SIGTERM, keep serving this long with /readyz false, then stop accepting",
    )
    graceful_timeout_seconds: float = Field(
        default=20.0, ge=0, le=300, description="after stopping accepting, wait this long for in-flight requests"
    )

    # Bounds on each request's work.
    max_n: int = Field(default=1000, ge=1, description="largest n for /sample")
    max_text_length: int = Field(default=64, ge=1, description="longest text /score accepts (characters)")
    max_batch: int = Field(default=1000, ge=1, description="most texts in one /score/batch request")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body; larger gets 413")
    max_bodies_in_flight: int = Field(
        default=67_108_864,
        ge=1024,
        description="bytes of request bodies being received or handled at once; past it, 503 with Retry-After",
    )
    max_queued_work: int = Field(
        default=262_144,
        ge=1,
        description="contexts of sampling and scoring work queued at once (a name position or a scored character "
        "each); a request that would pass it gets 503 with Retry-After",
    )
    max_attempts: int = Field(default=20, ge=1, description="sampling rounds spent on constraints before giving up")
    max_name_length: int = Field(
        default=32, ge=1, description="longest name /sample returns; a longer draw is rejected and redrawn"
    )

    # Security and logs.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="allowed CORS origins, comma-separated; empty = CORS off"
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    def resolved_sampler_threads(self) -> int:
        """sampler_threads, or (0) the cores this process may use shared among the workers, at least 1: the cores
        it may run on, fewer when its cgroup's CPU quota (a container's CPU limit) is lower, rounded up."""
        if self.sampler_threads:
            return self.sampler_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        limit = cgroup_cpu_limit()
        if limit is not None:
            cores = min(cores, math.ceil(limit))
        return max(1, cores // self.workers)

    def engine_limits(self) -> EngineLimits:
        """The limits the engine enforces, from these settings."""
        return EngineLimits(
            max_n=self.max_n,
            max_name_length=self.max_name_length,
            max_text_length=self.max_text_length,
            max_batch=self.max_batch,
            max_attempts=self.max_attempts,
            max_queued_work=self.max_queued_work,
            cache_contexts=self.cache_contexts,
            sampler_threads=self.resolved_sampler_threads(),
            warm_names=self.warm_names,
        )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept 'https://a.example, https://b.example' (or a JSON list) from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
