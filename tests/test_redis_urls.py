"""The one --redis-url: plain, cluster seeds, Sentinel (parsing only; the real topologies
are in test_scaleout.py)."""

from __future__ import annotations

import pytest

from chatserver.redis.cluster import command_slot
from chatserver.redis.urls import RedisAddress, parse_redis_url, parse_url


def test_plain_urls_as_before():
    assert parse_redis_url("redis://:pw@10.0.0.1:6380/2") == RedisAddress("10.0.0.1", 6380, password="pw", db=2)
    assert parse_redis_url("rediss://u:p@h") == RedisAddress("h", 6379, username="u", password="p", tls=True)
    assert parse_redis_url("valkey://h:7000") == RedisAddress("h", 7000)
    assert parse_redis_url("unix:///run/valkey.sock?db=3") == RedisAddress(path="/run/valkey.sock", db=3)


def test_several_seed_nodes_share_credentials():
    url = parse_url("redis://:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert [(n.host, n.port) for n in url.nodes] == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    assert {n.password for n in url.nodes} == {"secret"} and not url.sentinel


def test_sentinel_url():
    url = parse_url("redis+sentinel://:pw@s1:26379,s2/chat/1?sentinel_password=sp")
    assert url.sentinel and url.service == "chat" and url.sentinel_password == "sp"
    assert [(n.host, n.port) for n in url.nodes] == [("s1", 26379), ("s2", 26379)]
    assert url.nodes[0].password == "pw" and url.nodes[0].db == 1
    assert parse_url("rediss+sentinel://s1/chat").nodes[0].tls is True


@pytest.mark.parametrize(
    "bad",
    ["http://h:1", "redis+sentinel://s1:26379", "redis://h:port", "redis://h/1/2"],
)
def test_bad_urls_say_why(bad):
    with pytest.raises(ValueError):
        parse_url(bad)


def test_command_slot_routes_by_the_first_key():
    from redis.crc import key_slot

    tagged = key_slot(b"chat:{demo:lobby}:h")
    assert command_slot((b"EVALSHA", b"sha", 3, b"chat:{demo:lobby}:h", b"chat:{demo:lobby}:m", b"x")) == tagged
    assert command_slot((b"GET", "chat:{demo:lobby}:i:u:1")) == tagged
    assert command_slot((b"SPUBLISH", b"chat:{demo:lobby}:p", b"data")) == tagged
    assert command_slot((b"EVALSHA", b"sha", 0)) is None
    assert command_slot((b"PING",)) is None
