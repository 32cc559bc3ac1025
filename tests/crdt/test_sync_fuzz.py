"""Fuzz the sync socket: over 10,000 random and mutated frames, then the document is byte-for-byte as before.

Frames are random bytes or valid frames (sync steps, updates, awareness, queries) mutated by flips,
cuts, insertions, splices and forged lengths. A mutation that happens to be a *valid* edit (it
applies cleanly and changes the document) is a real edit, not an attack, and is left out of the
corpus: the test asks that nothing else changes the document, and that each bad frame costs only
its own connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pycrdt import Array, Doc, Map, Text, read_message
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from deepforge_panel.crdt.protocol import sync_step1, sync_update
from deepforge_panel.crdt.sync import CLOSE_BAD_MESSAGE
from tests.conftest import wait_until
from tests.sync.node import NodeClient, require_node_modules
from tests.sync.served import Served, hang_up

FRAMES = 10_000
WORKERS = 8
TIME_LIMIT = 60.0
PROBE = sync_step1(b"\x00")
"""Asks for the whole document: its answer (a step 2) tells that every frame before it was handled."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    running = Served(tmp_path, max_message_size=1024 * 1024)
    yield running
    running.close()


def seed(doc: Doc) -> list[bytes]:
    """Fill ``doc`` with maps, arrays, text and deletions; the updates that did it."""
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    meta = doc.get("meta", type=Map)
    pipelines = doc.get("pipelines", type=Map)
    for i in range(8):
        with doc.transaction():
            pipelines[f"pl{i}"] = Map({"name": f"pipeline {i}", "nodes": Map({"n": Map({"x": i})}), "tags": Array([i])})
        if i % 3 == 0:
            with doc.transaction():
                del pipelines[f"pl{i}"]
    with doc.transaction():
        meta["notes"] = Text("hello fuzz")
        meta["name"] = "fuzzed"
    doc.unobserve(subscription)
    return updates


def seed_frames(state: bytes, rng: random.Random) -> list[bytes]:
    """Valid frames of every kind: the mutations' raw material."""
    editor = Doc()
    editor.apply_update(state)
    before = editor.get_state()
    edits: list[bytes] = []
    subscription = editor.observe(lambda event: edits.append(event.update))
    pipelines = editor.get("pipelines", type=Map)
    for i in range(6):
        with editor.transaction():
            pipelines[f"new{i}"] = Map({"name": "x" * rng.randint(1, 20), "nodes": Map()})
    with editor.transaction():
        del pipelines["pl1"]
    editor.get("meta", type=Map)["notes"].insert(3, "inserted")
    editor.unobserve(subscription)
    frames = [sync_update(edit) for edit in edits]
    frames += [b"\x00\x01" + update_bytes(edit) for edit in edits]
    frames += [sync_update(editor.get_update(before))]
    frames += [sync_step1(editor.get_state()), sync_step1(b"\x00"), PROBE]
    frames += [b"\x03"]
    for client, state_json in [(7, b'{"user":{"name":"ada","color":"#f00"}}'), (8, b"null"), (9, b"{}")]:
        body = bytes([1, client, 3, len(state_json)]) + state_json
        frames.append(bytes([1, len(body)]) + body)
    return frames


def update_bytes(update: bytes) -> bytes:
    return sync_update(update)[2:]


def mutate(frame: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.35 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.5:
            del data[rng.randrange(len(data) + 1) :]
        elif choice < 0.65:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif choice < 0.75 and data:
            del data[rng.randrange(len(data))]
        elif choice < 0.85:
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            data = data[: rng.randrange(len(data) + 1)] + bytearray(other[cut:])
        elif choice < 0.95 and len(data) > 2:
            data[2] = rng.choice([0x00, 0x7F, 0x80, 0xFF])  # forge the body's length
        else:
            data[:1] = bytes([rng.choice([0, 1, 2, 3, 4, 100, 0x80, 0xFF])])
    return bytes(data)


def random_frame(rng: random.Random) -> bytes:
    head = bytes([rng.choice([0, 1, 2, 3, rng.randrange(256)])])
    if head == b"\x00":
        head += bytes([rng.choice([0, 1, 2, rng.randrange(256)])])
    return head + rng.randbytes(rng.randrange(0, 64))


def is_real_edit(frame: bytes, state: bytes) -> bool:
    """Whether ``frame`` is a sync update that applies cleanly and changes the document (a genuine edit)."""
    if len(frame) < 3 or frame[0] != 0 or frame[1] not in (1, 2):
        return False
    try:
        update = read_message(frame[2:])
    except (IndexError, AssertionError, UnicodeDecodeError, RuntimeError):
        return False
    probe = Doc()
    probe.apply_update(state)
    try:
        probe.apply_update(update)
    except (ValueError, RuntimeError):
        return False
    return probe.get_update() != state


def corpus(state: bytes, count: int, rng: random.Random) -> tuple[list[bytes], int]:
    """``count`` hostile or harmless frames, and how many genuine edits were left out."""
    seeds = seed_frames(state, rng)
    frames: list[bytes] = []
    left_out = 0
    while len(frames) < count:
        frame = random_frame(rng) if rng.random() < 0.3 else mutate(rng.choice(seeds), rng, seeds)
        if is_real_edit(frame, state):
            left_out += 1
            continue
        frames.append(frame)
    return frames, left_out


async def blast(url: str, frames: list[bytes]) -> Counter[str]:
    """Send every frame, each followed by a probe, over ``WORKERS`` connections, reconnecting after each close."""
    outcomes: Counter[str] = Counter()
    queue = iter(frames)

    async def worker() -> None:
        connection: WebSocketClientConnection | None = None
        try:
            for frame in queue:
                if connection is None:
                    connection = await websocket_connect(url)
                try:
                    await connection.write_message(frame, binary=True)
                    await connection.write_message(PROBE, binary=True)
                except WebSocketClosedError:
                    pass  # closed already: the close code is read below
                while True:
                    message = await connection.read_message()
                    if message is None:
                        outcomes[f"closed {connection.close_code}"] += 1
                        await hang_up(connection)
                        connection = None
                        break
                    if isinstance(message, bytes) and message[:2] == b"\x00\x01":
                        outcomes["kept"] += 1
                        break
        finally:
            if connection is not None:
                await hang_up(connection)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return outcomes


def test_ten_thousand_bad_frames_change_nothing(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    require_node_modules()
    caplog.set_level(logging.WARNING, logger="deepforge_panel.crdt.sync")
    store = served.store("p")
    served.call(lambda: seed(store.doc))
    before = served.state("p")
    frames, left_out = corpus(before, FRAMES, random.Random(20261130))

    started = time.monotonic()
    outcomes = asyncio.run(blast(f"{served.url}/p", frames))
    elapsed = time.monotonic() - started

    assert sum(outcomes.values()) == FRAMES
    assert set(outcomes) <= {"kept", f"closed {CLOSE_BAD_MESSAGE}"}, outcomes
    assert outcomes[f"closed {CLOSE_BAD_MESSAGE}"] > FRAMES // 2, outcomes
    assert elapsed < TIME_LIMIT, f"{FRAMES} frames took {elapsed:.1f}s"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no server error"
    assert served.state("p") == before, "the document changed"

    client = NodeClient(served.url, "p")
    try:
        client.synced()
        assert client.dump("meta")["meta"]["name"] == "fuzzed"
        client.call("set", root="meta", key="after", value="fuzz")
        wait_until(lambda: served.call(lambda: store.doc.get("meta", type=Map).get("after")) == "fuzz")
    finally:
        client.close()
    print(f"fuzz: {FRAMES} frames in {elapsed:.1f}s, {dict(outcomes)}, {left_out} genuine edits left out")
