"""HTTP API for Q&A (API key, see docs/http-api.md): sessions of a room and transcripts.

A transcript has the questions that reached the board, their answers and vote counts, in the
order asked; it names no asker, anonymous or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatserver.api import ApiError, api_route
from chatserver.qa.service import ID_RE, QaService
from rooms.qa.views import session_view, transcript, transcript_markdown

if TYPE_CHECKING:
    from chatserver.extension import ExtensionContext

BASE = "/api/communities/{community}/rooms/{room}/qa/sessions"


def routes(ext: ExtensionContext, svc: QaService) -> list[Route]:
    def board_of(request: Request) -> str:
        community = request.path_params["community"]
        room = request.path_params["room"]
        if ext.catalog.room(community, room) is None:
            raise ApiError(404, "not_found", f"no room {community}:{room}")
        return f"{community}:{room}/qa"

    @api_route(ext.settings, BASE, ["GET"])
    async def list_sessions(request: Request) -> Any:
        board = board_of(request)
        return {"sessions": [session_view(s) for s in await svc.store.sessions(board, limit=200)]}

    async def _transcript(request: Request) -> dict[str, Any]:
        board = board_of(request)
        sid = request.path_params["session"]
        if not ID_RE.match(sid):
            raise ApiError(404, "not_found", f"no session {sid}")
        loaded = await svc.store.load(board, sid)
        if loaded.board is None:
            raise ApiError(404, "not_found", f"no session {sid} in {board}")
        return transcript(loaded.board.session, loaded.board.questions.values(), loaded.counts)

    def markdown(data: dict[str, Any]) -> Response:
        return Response(transcript_markdown(data), media_type="text/markdown; charset=utf-8")

    @api_route(ext.settings, BASE + "/{session}/transcript", ["GET"])
    async def get_transcript(request: Request) -> Any:
        data = await _transcript(request)
        fmt = request.query_params.get("format", "json")
        if fmt in ("markdown", "md"):
            return markdown(data)
        if fmt != "json":
            raise ApiError(400, "bad_request", "format is json or markdown")
        return data

    @api_route(ext.settings, BASE + "/{session}/transcript.md", ["GET"])
    async def get_transcript_md(request: Request) -> Any:
        return markdown(await _transcript(request))

    return [list_sessions, get_transcript_md, get_transcript]
