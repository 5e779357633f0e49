"""The model engine: load artifacts into a model store, sample names, score text, say what comes next. Shared by
HTTP, CLI and tests."""
