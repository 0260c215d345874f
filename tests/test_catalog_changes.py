"""The catalog across processes: a change announces what changed and every process rereads
just that record; seeding writes the config's rooms in batches with one announcement."""

from __future__ import annotations

import time

from tests.harness import unique


def _eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_room_changes_reach_the_other_process(valkey, spawn):
    a = spawn(valkey.url + "/11")
    b = spawn(valkey.url + "/11")
    community = unique("cat")
    a.make_room(community, "r", slow_mode=5)
    path = f"/api/communities/{community}/rooms/r"
    # GET of one room answers from the process's cache: B learns of it from the announcement.
    assert _eventually(lambda: b.api("GET", path).status_code == 200)
    assert b.api("GET", path).json()["settings"]["slow_mode"] == 5
    r = a.api("PUT", path, {"title": "Renamed", "settings": {"slow_mode": 0}})
    assert r.status_code == 200, r.text
    assert _eventually(lambda: b.api("GET", path).json().get("title") == "Renamed")
    assert b.api("GET", path).json()["settings"]["slow_mode"] == 0
    # Another room of the same community is untouched; a deleted room disappears.
    a.make_room(community, "other")
    assert _eventually(lambda: b.api("GET", f"/api/communities/{community}/rooms/other").status_code == 200)
    assert a.api("DELETE", path).status_code in (200, 204)
    assert _eventually(lambda: b.api("GET", path).status_code == 404)
    assert b.api("GET", f"/api/communities/{community}/rooms/other").json()["title"] == "other"
    # A community changed in B reaches A.
    r = b.api("PUT", f"/api/communities/{community}", {"title": "New title"})
    assert r.status_code == 200, r.text
    assert _eventually(
        lambda: any(
            c["name"] == community and c["title"] == "New title"
            for c in a.api("GET", "/api/communities").json()["communities"]
        )
    )


def test_many_rooms_seeded_from_config_once(valkey, spawn, tmp_path):
    rooms = 1500
    cfg = tmp_path / "many.toml"
    lines = ['[[communities]]\nname = "big"\ntitle = "Big"\n']
    for i in range(rooms):
        lines.append(f'[[rooms]]\ncommunity = "big"\nname = "r{i}"\ntitle = "Room {i}"\n')
    lines.append('[[rooms]]\ncommunity = "implied"\nname = "x"\n')  # its community is created too
    cfg.write_text("\n".join(lines))
    a = spawn(valkey.url + "/12", args=["--config", str(cfg)])
    listed = a.api("GET", "/api/communities/big/rooms").json()["rooms"]
    assert len(listed) == rooms
    assert a.api("GET", "/api/communities/big/rooms/r1499").json()["title"] == "Room 1499"
    assert a.api("GET", "/api/communities/implied/rooms/x").status_code == 200
    # A room changed through the API is kept when a second process seeds the same config.
    r = a.api("PUT", "/api/communities/big/rooms/r7", {"title": "Changed"})
    assert r.status_code == 200, r.text
    b = spawn(valkey.url + "/12", args=["--config", str(cfg)])
    assert b.api("GET", "/api/communities/big/rooms/r7").json()["title"] == "Changed"
    assert len(b.api("GET", "/api/communities/big/rooms").json()["rooms"]) == rooms
