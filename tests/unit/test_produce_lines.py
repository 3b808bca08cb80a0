"""How produce reads a JSON Lines stream: line terminators, chunk borders, blank lines."""

from __future__ import annotations

import io

import pytest

from ingest.jsonl_import import is_blank, line_value, read_lines


async def collect(data: bytes, chunk: int) -> list[bytes]:
    return [line async for line in read_lines(io.BytesIO(data), chunk_bytes=chunk)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
async def test_lines_survive_any_chunk_border(chunk: int) -> None:
    data = b'{"a":1}\n\n{"b":"\xc3\xbc"}\r\n   \nlast-without-newline'
    lines = await collect(data, chunk)
    assert lines == [
        b'{"a":1}\n',
        b"\n",
        b'{"b":"\xc3\xbc"}\r\n',
        b"   \n",
        b"last-without-newline",
    ]
    assert b"".join(lines) == data


async def test_empty_stream_has_no_lines() -> None:
    assert await collect(b"", 4) == []
    assert await collect(b"\n", 4) == [b"\n"]


def test_line_value_strips_only_the_terminator() -> None:
    assert line_value(b'{"a":1}\n') == b'{"a":1}'
    assert line_value(b'{"a":1}\r\n') == b'{"a":1}'
    assert line_value(b'{"a":1} \r') == b'{"a":1} \r'  # a lone CR is not a terminator
    assert line_value(b"x") == b"x"


def test_blank_means_ascii_whitespace_only() -> None:
    assert is_blank(b"") and is_blank(b" \t\r") and is_blank(b"\x0b\x0c")
    assert not is_blank(b" {} ")
    assert not is_blank("\u00a0".encode())  # a non-ASCII space is content (bad_json)
