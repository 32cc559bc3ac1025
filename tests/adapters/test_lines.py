"""read_lines yields whole lines as they complete, even lines longer than the stream's limit."""

from __future__ import annotations

import asyncio

from deepforge_panel.adapters.compute._lines import read_lines


async def _collect(chunks: list[bytes], limit: int) -> list[bytes]:
    reader = asyncio.StreamReader(limit=limit)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return [line async for line in read_lines(reader)]


def test_lines_longer_than_the_limit_arrive_whole() -> None:
    lines = asyncio.run(_collect([b"0123456789", b"abcdef\nxy\n", b"0123456789abcdefgh", b"\nlast"], limit=4))
    assert lines == [b"0123456789abcdef\n", b"xy\n", b"0123456789abcdefgh\n", b"last"]


def test_empty_stream_and_trailing_newline() -> None:
    assert asyncio.run(_collect([], limit=4)) == []
    assert asyncio.run(_collect([b"a\n\nb\n"], limit=64)) == [b"a\n", b"\n", b"b\n"]


def test_a_line_is_yielded_before_the_stream_ends() -> None:
    async def main() -> bytes:
        reader = asyncio.StreamReader(limit=4)
        reader.feed_data(b"first line\nsecond")
        lines = read_lines(reader)
        first = await asyncio.wait_for(anext(lines), 5)
        reader.feed_eof()
        await lines.aclose()
        return first

    assert asyncio.run(main()) == b"first line\n"
