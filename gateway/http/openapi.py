"""The OpenAPI 3.1 document, generated from the endpoint declarations and their types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.http.api import Endpoint
from gateway.schemas import ErrorBody

_REASONS = {
    200: "OK", 201: "Created", 204: "No content", 400: "Malformed JSON", 401: "Unauthenticated",
    403: "Forbidden", 404: "Not found", 409: "Conflict", 413: "Too large",
    422: "Invalid input", 429: "Rate limited", 503: "Not ready",
}  # fmt: skip


def openapi_document(endpoints: Sequence[Endpoint], *, version: str) -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for endpoint in endpoints:
        types += [t for t in (endpoint.body, endpoint.ok[1]) if t is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(map(id, types), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "atdesk gateway",
            "version": version,
            "description": "Private messaging between consumers and brands. The WebSocket "
            "protocol at /v1/ws is described in PROTOCOL.md.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(endpoint: Endpoint, refs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    path_schemas = {p.name: p.schema for p in endpoint.path_schemas}
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": path_schemas.get(name, {"type": "string", "minLength": 1, "maxLength": 64})}
        for name in endpoint.path_params
    ] + [
        {"name": p.name, "in": "query", "required": False, "schema": p.schema,
         "description": p.description}
        for p in endpoint.query
    ]  # fmt: skip
    status, ok_type = endpoint.ok
    responses: dict[str, Any] = {str(status): {"description": _REASONS[status]}}
    if ok_type is not None:
        responses[str(status)]["content"] = _json(refs[id(ok_type)])
    errors = set(endpoint.errors)
    if endpoint.auth:
        errors.add(401)
    if endpoint.body is not None:
        errors |= {400, 413, 422}
    for error_status in sorted(errors):
        responses[str(error_status)] = {
            "description": _REASONS[error_status],
            "content": _json(refs[id(ErrorBody)]),
        }
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": _json(refs[id(endpoint.body)]),
        }
    if endpoint.auth:
        operation["security"] = [{"bearer": []}]
    return operation
