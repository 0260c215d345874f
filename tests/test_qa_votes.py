"""Two hundred members voting within a second: a bounded number of count events on the
board, and exact final counts (live, in qa.board, and in the transcript)."""

from __future__ import annotations

import asyncio
import math
import time

import httpx

from tests.harness import API_KEY, RawClient, token, unique
from tests.qa_support import People, subscribe

VOTERS = 200


async def test_200_members_voting_in_one_second_bounded_count_events_exact_counts(server):
    community = unique("votes")
    room = server.make_room(community, "big")
    board = f"{room}/qa"
    people = People(server.ws_url, community)
    voters: list[RawClient] = []
    try:
        host = await people.join("dr-vo", "host")
        watcher = await people.join("u-watch")
        await subscribe(watcher, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Votes", "premoderation": False, "question_interval": 0}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        q1 = (await host.call_rpc("qa.ask", {"channel": board, "text": "First question"}))["question"]["id"]
        q2 = (await host.call_rpc("qa.ask", {"channel": board, "text": "Second question"}))["question"]["id"]

        async def connect(i: int) -> RawClient:
            c = await RawClient.open(server.ws_url)
            voters.append(c)
            reply = await c.connect(token(f"u-voter-{i}", {community: "member"}))
            assert "connect" in reply
            return c

        clients = await asyncio.gather(*(connect(i) for i in range(VOTERS)))
        before = len([e for e in watcher.events(board) if e["type"] == "qa.votes"])

        async def vote(i: int, c: RawClient) -> int:
            await asyncio.sleep(0.9 * i / VOTERS)  # spread over most of a second
            calls = [("qa.vote", q1)]
            if i % 2 == 0:
                calls.append(("qa.vote", q2))
            if i % 8 == 0:
                calls.append(("qa.unvote", q2))  # withdrawn
            if i % 10 == 0:
                calls.append(("qa.vote", q1))  # a repeat changes nothing
            for method, qid in calls:
                reply = await c.rpc(method, {"channel": board, "session": sid, "question": qid})
                assert "error" not in reply, reply
            return len(calls)

        start = time.monotonic()
        sent = sum(await asyncio.gather(*(vote(i, c) for i, c in enumerate(clients))))
        elapsed = time.monotonic() - start
        expected = {q1: VOTERS, q2: VOTERS // 2 - VOTERS // 8}

        def latest() -> dict[str, int]:
            final: dict[str, int] = {}
            for e in watcher.events(board):
                if e["type"] == "qa.votes":
                    final.update(e["counts"])
            return final

        deadline = time.monotonic() + 10
        while latest() != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert latest() == expected
        await asyncio.sleep(0.6)  # nothing else trickles in afterwards
        count_events = len([e for e in watcher.events(board) if e["type"] == "qa.votes"]) - before
        # One flush per 250 ms window on this process, plus the window that was open.
        bound = math.ceil((elapsed + 0.6) / 0.25) + 2
        print(f"\n{sent} vote calls from {VOTERS} members in {elapsed:.2f}s -> {count_events} count events (bound {bound})")
        assert 1 <= count_events <= bound
        assert count_events * 20 < sent
        fresh = await watcher.call_rpc("qa.board", {"channel": board, "session": sid})
        assert {q["id"]: q["votes"] for q in fresh["questions"]} == expected
        await host.call_rpc("qa.end", {"channel": board, "session": sid})
        r = httpx.get(f"{server.url}/api/communities/{community}/rooms/big/qa/sessions/{sid}/transcript", headers={"Authorization": f"Bearer {API_KEY}"})
        assert [q["votes"] for q in r.json()["questions"]] == [expected[q1], expected[q2]]
    finally:
        await asyncio.gather(*(c.close() for c in voters))
        await people.close()


async def test_votes_on_two_processes_end_with_exact_counts(server, spawn, valkey):
    other = spawn(valkey.url, name="votes-other")
    community = unique("votes2")
    room = server.make_room(community, "r")
    board = f"{room}/qa"
    here = People(server.ws_url, community)
    there = People(other.ws_url, community)
    try:
        host = await here.join("dr-two", "host")
        watch_here = await here.join("u-w1")
        watch_there = await there.join("u-w2")
        for w in (watch_here, watch_there):
            await subscribe(w, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Two", "premoderation": False}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        qid = (await host.call_rpc("qa.ask", {"channel": board, "text": "q"}))["question"]["id"]
        voters = [await (here if i % 2 else there).join(f"u-v{i}") for i in range(40)]
        await asyncio.gather(*(v.call_rpc("qa.vote", {"channel": board, "question": qid}) for v in voters))
        await asyncio.gather(*(v.call_rpc("qa.unvote", {"channel": board, "question": qid}) for v in voters[:5]))
        for w in (watch_here, watch_there):
            await w.wait_for(board, lambda e: e["type"] == "qa.votes" and e["counts"].get(qid) == 35)
        await asyncio.sleep(0.6)
        for w in (watch_here, watch_there):
            counts = [e["counts"][qid] for e in w.events(board) if e["type"] == "qa.votes"]
            assert counts[-1] == 35  # the last word is exact, whichever process flushed last
        assert watch_here.events(board) == watch_there.events(board)
    finally:
        await here.close()
        await there.close()
