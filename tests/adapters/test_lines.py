"""Reading a job's pipes: lines as they complete, long console lines in bounded pieces, oversized records dropped."""

from __future__ import annotations

import asyncio
import os
import threading

from deepforge_panel.adapters.compute._lines import HEAD, LineCutter, Oversized, iter_pieces, read_pieces


def _cut(chunks: list[bytes], limit: int, whole: bool) -> list[bytes | Oversized]:
    cutter = LineCutter(limit, whole=whole)
    return [piece for chunk in chunks for piece in cutter.feed(chunk)] + cutter.end()


async def _collect(chunks: list[bytes], limit: int, whole: bool) -> list[bytes | Oversized]:
    reader = asyncio.StreamReader(limit=4)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return [piece async for piece in read_pieces(reader, limit, whole=whole)]


def test_console_lines_longer_than_the_limit_arrive_in_pieces_that_join_to_what_was_printed() -> None:
    chunks = [b"0123456789", b"abcdef\nxy\n", b"0123456789abcdefgh", b"\nlast"]
    pieces = asyncio.run(_collect(chunks, limit=8, whole=False))
    assert pieces == [b"01234567", b"89abcdef\n", b"xy\n", b"01234567", b"89abcdef", b"gh\n", b"last"]
    assert b"".join(p for p in pieces if isinstance(p, bytes)) == b"".join(chunks)


def test_a_line_of_exactly_the_limit_is_whole() -> None:
    assert _cut([b"abcd\n", b"efgh"], limit=4, whole=False) == [b"abcd\n", b"efgh"]
    assert _cut([b"abcd\n", b"efgh"], limit=4, whole=True) == [b"abcd\n", b"efgh"]


def test_pieces_are_cut_between_utf8_characters() -> None:
    text = "héé€€x\n".encode()
    pieces = _cut([text], limit=4, whole=False)
    assert all(len(p.removesuffix(b"\n")) <= 4 for p in pieces)
    assert [p.decode() for p in pieces] == ["hé", "é", "€", "€x\n"]


def test_records_longer_than_the_limit_are_dropped_as_they_stream_past() -> None:
    big = b"{" + b"x" * (3 * HEAD) + b"}"
    chunks = [b'{"a":1}\n', big[:100], big[100:], b"\n", b'{"b":2}\n', big]
    pieces = _cut(chunks, limit=HEAD, whole=True)
    assert pieces == [b'{"a":1}\n', Oversized(big[:HEAD], len(big)), b'{"b":2}\n', Oversized(big[:HEAD], len(big))]


def test_the_cutter_never_holds_more_than_the_limit() -> None:
    for whole in (False, True):
        cutter = LineCutter(1000, whole=whole)
        for _ in range(200):
            cutter.feed(b"y" * 777)
            assert len(cutter._pending) <= 1000


def test_empty_stream_and_trailing_newline() -> None:
    assert asyncio.run(_collect([], limit=4, whole=False)) == []
    assert asyncio.run(_collect([b"a\n\nb\n"], limit=64, whole=True)) == [b"a\n", b"\n", b"b\n"]


def test_a_line_is_yielded_before_the_stream_ends() -> None:
    async def main() -> bytes | Oversized:
        reader = asyncio.StreamReader(limit=4)
        reader.feed_data(b"first line\nsecond")
        pieces = read_pieces(reader, 64, whole=False)
        first = await asyncio.wait_for(anext(pieces), 5)
        reader.feed_eof()
        await pieces.aclose()
        return first

    assert asyncio.run(main()) == b"first line\n"


def test_a_blocking_pipe_is_read_as_data_arrives() -> None:
    read_end, write_end = os.pipe()
    got: list[bytes | Oversized] = []
    first = threading.Event()

    def reader() -> None:
        with os.fdopen(read_end, "rb") as stream:
            for piece in iter_pieces(stream, 8, whole=False):
                got.append(piece)
                first.set()

    thread = threading.Thread(target=reader)
    thread.start()
    os.write(write_end, b"hello\n")
    assert first.wait(10), "a complete line arrives before the pipe ends"
    os.write(write_end, b"a line longer than eight")
    os.close(write_end)
    thread.join(10)
    assert got == [b"hello\n", b"a line l", b"onger th", b"an eight"]
