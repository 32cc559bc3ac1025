"""Request bodies are checked against the route's schema, refusing with the field at fault."""

from __future__ import annotations

import pytest

from deepforge_panel.api.declare import ApiError, check
from deepforge_panel.api.schemas import NAME, VALUES, obj

SCHEMA = obj(
    {
        "name": NAME,
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "values": VALUES,
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    required=["name"],
)


def test_a_body_that_fits_passes() -> None:
    check(SCHEMA, {"name": "a", "count": 2, "ratio": 1, "values": {"x": [1, None]}, "tags": ["t"]})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "body: expected object, got []"),
        ({}, "body: 'name' is required"),
        ({"name": ""}, "body.name: must not be empty"),
        ({"name": "a", "count": True}, "body.count: expected integer, got True"),
        ({"name": "a", "count": 1.5}, "body.count: expected integer"),
        ({"name": "a", "ratio": "1"}, "body.ratio: expected number"),
        ({"name": "a", "tags": ["t", 3]}, "body.tags[1]: expected string, got 3"),
        ({"name": "a", "other": 1}, "body: unknown field 'other'"),
    ],
)
def test_a_body_that_does_not_fit_is_refused_naming_the_field(body: object, says: str) -> None:
    with pytest.raises(ApiError) as refused:
        check(SCHEMA, body)
    assert refused.value.status == 400
    assert str(refused.value).startswith(says), str(refused.value)
