"""The HTTP edge: protocol bounds, middleware, dependencies, routes, schemas, errors and serving. Everything
HTTP (status codes, JSON, query or body) happens here; the engine below it knows none of it."""
