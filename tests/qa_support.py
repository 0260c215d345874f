"""Helpers for the Q&A acceptance tests: clients that keep every raw frame and sort pushes
per channel, a people factory, and a client-side board reducer (apply events to a stale
board and compare with a fresh ``qa.board``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from tests.harness import RawClient, token


class QaClient(RawClient):
    """A RawClient that keeps the raw text of every frame and files pushes by channel."""

    def __init__(self, ws: Any, protobuf_mode: bool) -> None:
        self.raw: list[bytes] = []
        self.feeds: dict[str, list[dict[str, Any]]] = {}
        self.notices: list[dict[str, Any]] = []
        super().__init__(ws, protobuf_mode)
        self._sorter = asyncio.ensure_future(self._sort())

    def _decode(self, message: bytes | str) -> list[dict[str, Any]]:
        self.raw.append(message if isinstance(message, bytes) else message.encode())
        return super()._decode(message)

    async def _sort(self) -> None:
        while True:
            push = (await self.pushes.get()).get("push", {})
            channel = push.get("channel", "")
            if "pub" in push:
                pub = push["pub"]
                raw = pub.get("data")
                data = orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw
                entry = {"offset": pub.get("offset", 0), "data": data, "info": pub.get("info")}
                self.feeds.setdefault(channel, []).append(entry)
            else:
                self.feeds.setdefault(channel, []).append({"other": push})

    def events(self, channel: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.feeds.get(channel, []) if "data" in e]

    def types(self, channel: str) -> list[str]:
        return [e["type"] for e in self.events(channel)]

    async def wait_for(self, channel: str, pred: Any, timeout: float = 10) -> dict[str, Any]:
        """The first event on ``channel`` matching ``pred`` (waits for it to arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(channel):
                if pred(event):
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching event on {channel}; got {self.types(channel)}")
            await asyncio.sleep(0.02)

    async def wait_type(self, channel: str, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        def pred(e: dict[str, Any]) -> bool:
            if e.get("type") != kind:
                return False
            return all(_dig(e, k) == v for k, v in match.items())

        return await self.wait_for(channel, pred, timeout)

    async def call_rpc(self, method: str, data: Any) -> dict[str, Any]:
        """The RPC result, or raise ``RpcFailed`` with the error."""
        reply = await self.rpc(method, data)
        if "error" in reply:
            raise RpcFailed(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    async def rpc_error(self, method: str, data: Any) -> dict[str, Any]:
        reply = await self.rpc(method, data)
        assert "error" in reply, f"{method} should fail, got {reply}"
        return reply["error"]

    async def close(self) -> None:
        self._sorter.cancel()
        await super().close()


def _dig(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class RpcFailed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class People:
    """Open and connect ``QaClient``s for one community; all closed by ``close``."""

    def __init__(self, ws_url: str, community: str) -> None:
        self.ws_url = ws_url
        self.community = community
        self.opened: list[QaClient] = []

    async def join(self, user: str, role: str = "member", *, name: str | None = None, protobuf_mode: bool = False, url: str | None = None) -> QaClient:
        client = await QaClient.open(url or self.ws_url, protobuf_mode=protobuf_mode)
        self.opened.append(client)
        reply = await client.connect(token(user, {self.community: role}, name=name or user))
        assert "connect" in reply, reply
        return client

    async def close(self) -> None:
        for client in self.opened:
            await client.close()


async def subscribe(client: QaClient, channel: str, **params: Any) -> dict[str, Any]:
    reply = await client.call("subscribe", {"channel": channel, **params})
    assert "subscribe" in reply, reply
    return reply["subscribe"]


# ---------------------------------------------------------------- client-side board state


def empty_state() -> dict[str, Any]:
    return {"session": None, "questions": {}}


def board_state(board: dict[str, Any]) -> dict[str, Any]:
    """A ``qa.board`` answer as reducer state (members' view)."""
    return {
        "session": _session_core(board["session"]),
        "questions": {q["id"]: _question_core(q) | {"votes": q["votes"]} for q in board["questions"]},
    }


def _session_core(session: dict[str, Any]) -> dict[str, Any]:
    return {k: session.get(k) for k in ("id", "state", "stage", "answering", "title")}


def _question_core(q: dict[str, Any]) -> dict[str, Any]:
    return {k: q.get(k) for k in ("id", "number", "text", "state", "pinned", "anonymous", "asker", "answer")}


def apply_event(state: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What a client does with each board event (the rules in docs/qa.md)."""
    kind = event["type"]
    questions = dict(state["questions"])
    if kind.startswith("qa.session."):
        return {"session": _session_core(event["session"]), "questions": questions}
    if kind == "qa.votes":
        for qid, n in event["counts"].items():
            if qid in questions:
                questions[qid] = {**questions[qid], "votes": n}
        return {**state, "questions": questions}
    if kind.startswith("qa.question."):
        for key in ("previous", "question"):
            q = event.get(key)
            if q is None:
                continue
            if q["state"] == "dismissed":
                questions.pop(q["id"], None)
                continue
            votes = questions.get(q["id"], {}).get("votes", 0)
            questions[q["id"]] = _question_core(q) | {"votes": votes}
        session = state["session"]
        if session is not None:
            answering = session.get("answering")
            q = event["question"]
            if kind == "qa.question.answering":
                answering = q["id"]
            elif answering == q["id"] and q["state"] != "answering":
                answering = None
            session = {**session, "answering": answering}
        return {"session": session, "questions": questions}
    raise AssertionError(f"unknown board event {kind}")
