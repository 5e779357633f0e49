"""PLACEHOLDER (helper H1 replaces this): the Engine interface the app builds at startup."""

from __future__ import annotations

from app.engine.artifact import Artifact
from app.settings import Settings


class Engine:
    def __init__(self, artifact: Artifact, settings: Settings) -> None:
        self.artifact = artifact
        self.settings = settings

    def warm_up(self) -> None:
        """Run one real sample so readiness means 'can serve'."""
