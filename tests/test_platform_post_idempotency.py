"""``POST /api/communities/{c}/rooms/{r}/messages`` with a repeated ``client_msg_id``
answers the first result (same id, offset, status), as ``chat.send`` does: never a second
message, never a moderation refusal of the retry (docs/http-api.md)."""

from __future__ import annotations

import asyncio

import httpx

from tests.harness import API_KEY, unique


def _post(server, community: str, room: str, body: dict) -> httpx.Response:
    return server.api("POST", f"/api/communities/{community}/rooms/{room}/messages", body)


def test_a_repeated_client_msg_id_answers_the_first_result(server):
    community = unique("pp")
    server.make_room(community, "news")
    body = {"text": "Tonight's meeting moves to 6pm, write to host@example.com", "client_msg_id": "notice-1"}
    first = _post(server, community, "news", body)
    assert first.status_code == 201, first.text
    posted = first.json()
    assert posted["id"] and posted["offset"] >= 1
    for _ in range(3):  # the third repeat used to be refused 422 as a duplicate text
        again = _post(server, community, "news", body)
        assert again.status_code == 200, again.text
        answer = again.json()
        assert answer["duplicate"] is True
        assert {k: answer[k] for k in ("id", "offset", "epoch", "status", "channel")} == {
            k: posted[k] for k in ("id", "offset", "epoch", "status", "channel")
        }
        assert answer.get("hidden") == posted.get("hidden")
    # The same key with another text is still the retry of the first post.
    changed = _post(server, community, "news", {**body, "text": "something else"})
    assert changed.status_code == 200 and changed.json()["id"] == posted["id"]
    history = server.api("GET", f"/api/communities/{community}/rooms/news/history").json()["publications"]
    assert [p["data"]["id"] for p in history] == [posted["id"]]
    # Another key is another message.
    other = _post(server, community, "news", {**body, "client_msg_id": "notice-2"})
    assert other.status_code == 201 and other.json()["id"] != posted["id"]


async def test_concurrent_retries_get_one_message_and_one_id(server):
    community = unique("pp")
    server.make_room(community, "news")
    body = {"text": "Reminder: the group starts in ten minutes", "client_msg_id": "reminder-1"}
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10) as http:
        answers = await asyncio.gather(
            *(http.post(f"/api/communities/{community}/rooms/news/messages", json=body) for _ in range(8))
        )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1, [a.json() for a in answers]
    assert len({a.json()["offset"] for a in answers}) == 1
    history = server.api("GET", f"/api/communities/{community}/rooms/news/history").json()["publications"]
    assert len(history) == 1
