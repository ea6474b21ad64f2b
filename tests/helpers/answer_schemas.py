"""Answers held to the OpenAPI document (ADR 0040): a response's JSON body validated against the
schema its operation declares for its status, every object closed to fields its model does not
name (the document leaves them open)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in document["paths"].items():
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        if method in operations and re.fullmatch(pattern, path):
            found: dict[str, Any] = operations[method]
            return found
    raise AssertionError(f"no {method.upper()} operation matches {path}")


def _closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to others: a field the
    route returns that its model does not name fails too (the document leaves them open)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _validate(document: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    root = _closed({**schema, "components": document["components"]})
    validator = jsonschema_rs.validator_for(root)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]


def answer_problems(document: dict[str, Any], response: httpx.Response) -> tuple[str, list[str]]:
    """The operation that answered and how its JSON body breaks the declared schema."""
    request = response.request
    operation = _operation(document, request.method.lower(), request.url.path)
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, (request.url, response.status_code, response.text)
    if not response.headers["content-type"].startswith("application/json"):
        return operation["operationId"], []
    schema = declared["content"]["application/json"]["schema"]
    where = f"{request.method} {request.url} {response.status_code}"
    problems = _validate(document, schema, response.json())
    return operation["operationId"], [f"{where}: {problem}" for problem in problems]


__all__ = ["answer_problems"]
