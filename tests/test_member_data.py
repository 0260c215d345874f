"""Issue 22: member data is a property of every store. Every store the composition root
makes (itself, or for an extension through ``RedisStores``) implements
``chatserver.member_data.MemberData``, and privacy asks exactly these; a store that keeps
nothing about members has to be named here with the reason."""

from __future__ import annotations

import inspect
from typing import get_type_hints

from chatserver.app import Server
from chatserver.config import Settings
from chatserver.member_data import MemberData
from chatserver.redis.stores import RedisStores

# Engine parts the root holds that are not member data themselves, and why.
NOT_MEMBER_DATA = {
    "RedisBroker": "the streams' member data is RedisPrivacyStore (the same keys, read in batches)",
    "RedisCommands": "no keys of its own: each command's key is named by the store that owns it",
    "RedisControl": "pub/sub only, nothing kept",
    "RedisStores": "the factory: the stores it made are checked one by one",
    "EngineParts": "the connections and subscriptions",
}


def test_every_store_the_composition_root_makes_keeps_member_data(valkey):
    server = Server(Settings(redis_url=valkey.url, secret="s" * 32, api_key="k" * 32))
    stores = server.member_stores()
    assert stores, "no stores registered"
    for store in stores:
        assert isinstance(store, MemberData), f"{type(store).__name__} does not implement MemberData"
    # Every kind of store an extension can ask for was made and registered.
    kinds = {type(s) for s in stores}
    for name, method in inspect.getmembers(RedisStores, inspect.isfunction):
        if name.startswith("_") or name == "made":
            continue
        made = get_type_hints(method)["return"]
        assert made in kinds, f"RedisStores.{name} makes {made.__name__}, which privacy never asks"
    # Every engine object the root holds is a registered store or named above.
    for attr, value in vars(server).items():
        module = type(value).__module__
        if not module.startswith("chatserver.redis"):
            continue
        name = type(value).__name__
        assert value in stores or name in NOT_MEMBER_DATA, f"Server.{attr} ({name}) is neither member data nor exempt"
    # Privacy asks exactly these, in an order where item ids are found before they are used.
    assert server.privacy is not None
    asked = server.privacy.stores()
    assert {id(s) for s in asked} == {id(s) for s in stores}
    phases = [getattr(s, "member_phase", 50) for s in asked]
    assert phases == sorted(phases)
    names = [type(s).__name__ for s in asked]
    assert names.index("RedisHoldStore") < names.index("RedisPrivacyStore") < names.index("RedisReactionStore")
    assert names.index("RedisQaStore") < names.index("RedisPrivacyStore")
