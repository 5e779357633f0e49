"""The model engine: load an artifact, sample names, score text. Shared by HTTP, CLI and tests."""
