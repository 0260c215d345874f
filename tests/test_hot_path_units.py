"""Units of the fan-out hot path: RESP reading, frame headers, coalesced stream reads,
the light per-connection inbox and flag, exact-size JSON bytes, GC settings."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from chatserver import gc_policy
from chatserver.hub import SharedReads
from chatserver.protocol.codec import json_dumps
from chatserver.redis.resp import RespError, RespReader, encode_command
from chatserver.ws_protocol import _Flag, _Inbox, frame_header


def test_encode_command_bulk_strings():
    assert encode_command("SET", b"k", 12) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"


def test_resp_reader_values_across_arbitrary_splits():
    stream = (
        b"*3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$5\r\nhe\r\nl\r\n"  # data may contain CRLF
        b":42\r\n+OK\r\n-NOSCRIPT No matching script\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n"
    )
    for cut in range(1, len(stream)):
        reader = RespReader()
        reader.feed(stream[:cut])
        values = reader.values()
        reader.feed(stream[cut:])
        values += reader.values()
        assert values[0] == [b"message", b"ch1", b"he\r\nl"]
        assert values[1:3] == [42, b"OK"]
        assert isinstance(values[3], RespError) and str(values[3]).startswith("NOSCRIPT")
        assert values[4] is None and values[5] == [1, b""]
        assert reader.buf == b""


def test_resp_reader_rejects_unknown_type():
    reader = RespReader()
    reader.feed(b"?what\r\n")
    with pytest.raises(RespError):
        reader.values()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize("binary", [False, True])
def test_frame_header_parses_as_websockets_frame(size, binary):
    payload = b"x" * size
    reader = StreamReader()
    reader.feed_data(frame_header(size, binary) + payload)
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as stop:
        next(parser)
    frame = stop.value.value
    assert frame.opcode == (Opcode.BINARY if binary else Opcode.TEXT)
    assert frame.fin and frame.data == payload


async def test_shared_reads_coalesce_while_one_is_in_flight():
    reads = SharedReads()
    calls = 0
    gate = asyncio.Event()

    async def fetch():
        nonlocal calls
        calls += 1
        n = calls
        await gate.wait()
        return n

    first = asyncio.ensure_future(reads.read("k", fetch))
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(reads.read("k", fetch)) for _ in range(5)]
    other = asyncio.ensure_future(reads.read("other", fetch))
    await asyncio.sleep(0)
    gate.set()
    # The first read answers only the first request (the others asked after it started);
    # one more read, started when it finished, answers all five later ones.
    assert await first == 1
    results = await asyncio.gather(*later)
    assert len(set(results)) == 1 and results[0] not in (1, await other)
    assert reads.started == 3 and reads.joined == 4


async def test_shared_reads_pass_errors_to_every_waiter():
    reads = SharedReads()

    async def boom():
        await asyncio.sleep(0)
        raise ConnectionError("down")

    first = asyncio.ensure_future(reads.read("k", boom))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(reads.read("k", boom)) for _ in range(3)]
    for fut in [first, *waiting]:
        with pytest.raises(ConnectionError):
            await fut

    async def ok():
        return "fine"

    assert await reads.read("k", ok) == "fine"  # nothing left stuck behind the failure


async def test_inbox_is_a_fifo_with_one_waiting_reader():
    inbox = _Inbox()
    assert inbox.empty() and inbox.qsize() == 0
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await getter == 1
    assert inbox.qsize() == 1 and inbox.get_nowait() == 2
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()


async def test_flag_wakes_waiters():
    flag = _Flag()
    assert not flag.is_set()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    flag.clear()
    assert not flag.is_set()
    again = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not again.done()
    flag.set()
    assert await asyncio.wait_for(again, 1) is True


def test_json_dumps_keeps_only_what_it_returns():
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        kept = [json_dumps({"name": f"u{i}", "roles": {"c": "member"}}) for i in range(500)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown / len(kept) < 400  # orjson alone keeps ~4 KiB per result
    assert kept[3] == b'{"name":"u3","roles":{"c":"member"}}'


def test_gc_thresholds_from_env():
    assert gc_policy.thresholds_from_env(None) == gc_policy.THRESHOLDS
    assert gc_policy.thresholds_from_env("default") is None
    assert gc_policy.thresholds_from_env("1000, 10, 10") == (1000, 10, 10)
    with pytest.raises(ValueError):
        gc_policy.thresholds_from_env("fast")
