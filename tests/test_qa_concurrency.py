"""Many members asking at once, on two processes: every question lands once, numbered
without gaps, and every watcher sees the same board events in the same order."""

from __future__ import annotations

import asyncio

import httpx

from tests.harness import unique
from tests.qa_support import People, subscribe

ASKERS = 40


async def test_concurrent_asks_on_two_processes_all_land_in_one_order(server, spawn, valkey):
    other = spawn(valkey.url, name="qa-conc")
    community = unique("conc")
    room = server.make_room(community, "busy")
    board = f"{room}/qa"
    here = People(server.ws_url, community)
    there = People(other.ws_url, community)
    try:
        host = await here.join("dr-busy", "host")
        w1 = await here.join("u-w1")
        w2 = await there.join("u-w2")
        for w in (w1, w2):
            await subscribe(w, board)
        sid = (await host.call_rpc("qa.create", {"channel": board, "title": "Rush", "premoderation": False}))["session"]["id"]
        await host.call_rpc("qa.start", {"channel": board, "session": sid})
        askers = [await (here if i % 2 else there).join(f"u-ask-{i}") for i in range(ASKERS)]
        results = await asyncio.gather(
            *(a.call_rpc("qa.ask", {"channel": board, "text": f"question from {i}"}) for i, a in enumerate(askers))
        )
        assert all(r["status"] == "published" for r in results)
        numbers = sorted(r["question"]["number"] for r in results)
        assert numbers == list(range(1, ASKERS + 1))
        for w in (w1, w2):
            await w.wait_for(board, lambda e, w=w: len([x for x in w.events(board) if x["type"] == "qa.question.published"]) == ASKERS)
        published = [e["question"]["number"] for e in w1.events(board) if e["type"] == "qa.question.published"]
        assert published == list(range(1, ASKERS + 1))  # board order is the order of the state changes
        assert w1.events(board) == w2.events(board)
        fresh = await w1.call_rpc("qa.board", {"channel": board, "sort": "recent"})
        assert [q["number"] for q in fresh["questions"]] == list(range(ASKERS, 0, -1))
        metrics = httpx.get(server.url + "/metrics").text
        conflicts = [line for line in metrics.splitlines() if line.startswith("chat_qa_commit_conflicts ")]
        assert conflicts, metrics
        print(f"\n{ASKERS} concurrent asks on two processes: {conflicts[0]} (this process)")
    finally:
        await here.close()
        await there.close()
