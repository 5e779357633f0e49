"""ASGI middleware, one concern per module: body caps and early refusal, security headers, observability, HEAD."""
