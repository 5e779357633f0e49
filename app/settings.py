"""Service settings, read from the environment (prefix NAMEGEN_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "model_artifacts" / "names-mlp.pt"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAMEGEN_", frozen=True)

    model_path: Path = Field(SHIPPED_MODEL, description="TorchScript artifact to serve")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    torch_threads: int = Field(1, ge=1, description="torch intra-op threads per worker")
    max_n: int = Field(1000, ge=1, description="largest n for /sample")
    max_text_length: int = Field(64, ge=1, description="longest text /score accepts (characters)")
    max_batch: int = Field(1000, ge=1, description="most texts in one /score/batch request")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest request body; larger gets 413")
    max_attempts: int = Field(20, ge=1, description="sampling rounds spent on constraints before giving up")
    max_name_length: int = Field(32, ge=1, description="a sampled name stops here if no end token came")
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins; empty = CORS off")
    log_level: str = "info"


@lru_cache
def get_settings() -> Settings:
    return Settings()
