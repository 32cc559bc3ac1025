"""The OpenAPI document: valid OpenAPI 3.1, built from the declarations, every operation complete."""

from __future__ import annotations

from openapi_spec_validator import validate

from deepforge_panel.api import ROUTES
from deepforge_panel.api.openapi import document


def test_the_document_is_valid_openapi_and_lists_every_declared_route() -> None:
    doc = document()
    validate(doc)
    declared = {(r.method.lower(), "/api/v1" + r.path) for r in ROUTES}
    listed = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert listed == declared
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operation ids must be unique"


def test_every_operation_declares_its_refusals_and_its_body() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"400", "401"} <= set(responses), (method, path)
            assert sum(code.startswith("2") for code in responses) == 1, (method, path)
            for code, response in responses.items():
                if not code.startswith("2"):
                    assert response["content"]["application/json"]["schema"]["required"] == ["error"]
            if "{project}" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "patch") and not path.endswith(("/cancel",)):
                assert "requestBody" in operation, (method, path)
            names = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert names == [part[1:-1] for part in path.split("/") if part.startswith("{")], (method, path)
