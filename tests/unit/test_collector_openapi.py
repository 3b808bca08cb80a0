"""The collector's OpenAPI document: complete, and every reference resolves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ingest.accepted_event import RejectReason
from ingest.collector_openapi import build_openapi


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_reference_resolves_and_it_is_json() -> None:
    for token_required in (False, True):
        spec = build_openapi(token_required=token_required)
        json.dumps(spec)  # serializable as served
        found = list(refs(spec))
        assert found
        for ref in found:
            assert ref.startswith("#/components/schemas/")
            assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"]


def test_describes_the_routes_answers_and_reasons() -> None:
    spec = build_openapi(token_required=False)
    post = spec["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"200", "400", "401", "413", "415", "503"}
    assert "Retry-After" in post["responses"]["503"]["headers"]
    assert "security" not in post
    rejected = spec["components"]["schemas"]["Accepted"]["properties"]["rejected"]
    assert rejected["items"]["properties"]["reason"]["enum"] == [r.value for r in RejectReason]
    assert {"/healthz", "/openapi.json"} <= set(spec["paths"])


def test_bearer_scheme_only_when_a_token_is_configured() -> None:
    spec = build_openapi(token_required=True)
    assert spec["paths"]["/v1/events"]["post"]["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "securitySchemes" not in build_openapi(token_required=False)["components"]
