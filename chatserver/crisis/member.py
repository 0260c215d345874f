"""What a member's own page asks about her support: ``support.resources``.

Her resources in her language (the call's ``locale``, else her token's ``locale`` claim, else
her client's language), and where her crisis case stands while it is open and for
``[crisis] resources_linger`` seconds after it closed, so a reload or a language switch
brings the panel back (nothing is kept in the browser). Only her own case, and only one she
was told about (one opened by a crisis in her own messages, not by another member's worry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatserver.auth import locale_tag
from chatserver.errors import ReplyError
from chatserver.moderation.errors import bad_request
from chatserver.protocol import codes
from rooms.private import private_of

if TYPE_CHECKING:
    from chatserver.crisis.cases import CaseService
    from chatserver.crisis.resources import CommunityResources
    from moderation_hooks import Resource


class MemberSupport:
    def __init__(self, cases: CaseService, resources: CommunityResources) -> None:
        self.cases = cases
        self.resources = resources
        self.ext = cases.ext

    def resources_for(self, community: str, locale: str, subject: str = "self") -> tuple[Resource, ...]:
        """The community's own resources for ``locale``, else the crisis hook's."""
        own = self.resources.for_locale(community, locale, subject)
        if own:
            return own
        for room in self.ext.catalog.rooms_of(community)[:50]:
            if private_of(room) is not None:
                continue
            pipeline, _ = self.cases.moderation.pipelines.for_room(room)
            for spec in pipeline.hooks:
                support_for = getattr(spec.hook, "support_for", None)
                if callable(support_for):
                    found = support_for(locale or "en")
                    if subject == "third_party" and getattr(found, "third_party_resources", ()):
                        return tuple(found.third_party_resources)
                    return tuple(getattr(found, "resources", ()) or ())
            break
        return ()

    async def call(self, conn: Any, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise bad_request('expected an object like {"community": "<community>"}')
        community = data.get("community")
        if not isinstance(community, str) or community not in self.ext.catalog.communities:
            raise ReplyError(codes.UNKNOWN_CHANNEL, f"unknown community {community!r}")
        identity = conn.identity
        member = identity.member
        if member.role_in(community) is None:
            raise ReplyError(codes.PERMISSION_DENIED, f"permission denied: not a member of community {community}")
        asked = data.get("locale")
        if asked is not None and not locale_tag(asked):
            raise bad_request("locale must be a language tag like es-MX")
        locale = locale_tag(asked) if asked is not None else (identity.locale or "en")
        case = await self._own_case(community, member.user)
        subject = case.get("kind", "self") if case else "self"
        out: dict[str, Any] = {
            "community": community,
            "locale": locale,
            "resources": [r.to_dict() for r in self.resources_for(community, locale, subject)],
            "case": None,
        }
        if case is not None:
            view: dict[str, Any] = {"state": case["state"], "kind": case.get("kind", "self"), "opened_at": case["opened_at"]}
            if case.get("closed_at"):
                view["closed_at"] = case["closed_at"]
            conversation = case.get("conversation")
            if conversation:
                room = self.ext.catalog.rooms.get(conversation)
                conv = private_of(room) if room is not None else None
                view["conversation"] = {"channel": conversation, "closed": bool(conv is not None and conv.closed)}
            out["case"] = view
        return out

    async def _own_case(self, community: str, user: str) -> dict[str, Any] | None:
        store = self.cases.store
        case_id = await store.open_case_of(community, user) or await store.last_closed_of(community, user)
        if case_id is None:
            return None
        found = await store.get(community, case_id)
        if found is None or found[0].get("user") != user or not found[0].get("told"):
            return None
        return await self.cases.get(community, case_id)
