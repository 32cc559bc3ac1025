"""One decoder turns events-channel records into typed events; what it cannot read becomes Malformed."""

from __future__ import annotations

import json

import pytest

from deepforge_panel.events import Figure, JobError, Malformed, Metric, Output, Progress, decode


def record(**fields: object) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(
    ("payload", "event"),
    [
        (record(type="progress", current=2, total=5, label="epoch"), Progress(2, 5, "epoch")),
        (record(type="progress", current=2.0, total=None), Progress(2, None, "")),
        (record(type="metric", name="loss", value=0.25, step=3), Metric("loss", 0.25, 3)),
        (record(type="metric", name="loss", value=None, step=None), Metric("loss", None, None)),
        ('{"type":"metric","name":"loss","value":NaN}', Metric("loss", None, None)),
        ('{"type":"metric","name":"acc","value":1}', Metric("acc", 1.0, None)),
        (record(type="figure", id="1", figure={"axes": []}), Figure("1", {"axes": []})),
        (record(type="figure", id=2, figure={}), Figure("2", {})),
        (
            record(type="output", name="model", url="file:///a/b", hash="ab" * 32, size=12, datatype="int"),
            Output("model", "file:///a/b", "ab" * 32, 12, "int"),
        ),
        (record(type="error", traceback="Traceback ..."), JobError("Traceback ...")),
    ],
)
def test_records_decode_to_typed_events(payload: str, event: object) -> None:
    assert decode(payload) == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "not JSON"),
        ("epoch 1/1 [=====>", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (record(kind="metric"), "unknown event type None"),
        (record(type="custom", text="x"), "unknown event type 'custom'"),
        (record(type=["metric"]), "unknown event type ['metric']"),
        (record(type="metric", name=3, value=1.0), "metric event: 'name' must be a string, got 3"),
        (record(type="metric", name="x", value="high"), "metric event: 'value' must be a number or null, got 'high'"),
        (record(type="metric", name="x", value=True), "'value' must be a number or null, got True"),
        (record(type="progress", current="1"), "progress event: 'current' must be an integer, got '1'"),
        (record(type="progress", current=1, total="many"), "'total' must be an integer, got 'many'"),
        (record(type="figure", id="1", figure=[1]), "figure event: 'figure' must be an object"),
        (record(type="figure", figure={}), "figure event: 'id' must be a string, got None"),
        (record(type="output", name="x", url="u", hash="h"), "output event: 'size' must be an integer, got None"),
    ],
)
def test_anything_else_becomes_malformed_with_a_reason(payload: str, reason: str) -> None:
    event = decode(payload)
    assert isinstance(event, Malformed) and event.payload == payload
    assert reason in event.reason
    assert event.note.startswith(f"[deepforge] ignored an event from the job ({event.reason}): ")


def test_a_long_malformed_record_is_shortened_in_its_note() -> None:
    event = decode("x" * 10_000)
    assert isinstance(event, Malformed) and len(event.payload) == 10_000
    assert len(event.note) < 400 and event.note.endswith("x…")


@pytest.mark.parametrize(
    "payload",
    [
        record(type="progress", current=1, total=10**23),
        record(type="progress", current=2**53, total=None),
        record(type="metric", name="loss", value=0.5, step=-(10**20)),
        record(type="output", name="x", url="u", hash="h", size=1e300),
    ],
)
def test_integers_the_document_cannot_hold_are_malformed(payload: str) -> None:
    event = decode(payload)
    assert isinstance(event, Malformed) and "must be an integer between" in event.reason


def test_a_record_dropped_for_its_size_becomes_a_note_saying_so() -> None:
    from deepforge_panel.adapters.compute.messages import EventRecord
    from deepforge_panel.events import decode_record

    event = decode_record(EventRecord('{"type":"figure","pad":"xxx', dropped=40_000_000))
    assert isinstance(event, Malformed) and "a record of 40000000 bytes is over the size limit" in event.note
    assert '{"type":"figure","pad":"xxx' in event.note
    assert decode_record(EventRecord('{"type":"progress","current":1}')) == Progress(1, None, "")
