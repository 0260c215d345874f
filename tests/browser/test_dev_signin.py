"""Development sign-in (POST /dev/token) and the static web client, over plain HTTP."""

from __future__ import annotations

import subprocess
import sys

import httpx
import jwt

from tests.harness import ROOT, SECRET, unique


def test_dev_token_mints_a_token_for_name_community_and_role(web):
    community = unique("web")
    web.make_room(community, "lobby")
    r = httpx.post(web.url + "/dev/token", json={"name": "Dr Rivera", "community": community, "role": "host"})
    assert r.status_code == 200, r.text
    body = r.json()
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == body["user"] == "dev-dr-rivera"
    assert claims["name"] == "Dr Rivera"
    assert claims["communities"] == {community: "host"}
    assert 0 < claims["exp"] - claims["iat"] <= body["expires_in"]
    listed = httpx.get(web.url + "/dev/communities").json()["communities"]
    assert community in [c["name"] for c in listed]


def test_dev_token_refuses_bad_input_clearly(web):
    community = unique("web")
    web.make_room(community, "lobby")
    cases = [
        ({"community": community}, 400, "name"),
        ({"name": "x" * 65, "community": community}, 400, "name"),
        ({"name": "Ann", "community": "Not A Name"}, 400, "community"),
        ({"name": "Ann", "community": community, "role": "overlord"}, 400, "role"),
        ({"name": "Ann", "community": unique("missing")}, 404, "no community"),
    ]
    for body, status, word in cases:
        r = httpx.post(web.url + "/dev/token", json=body)
        assert r.status_code == status, (body, r.text)
        assert word in r.json()["error"]["message"]
    r = httpx.post(web.url + "/dev/token", content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_dev_endpoints_answer_404_outside_development_mode(server):
    # The session server runs with a configured secret: production mode.
    r = httpx.post(server.url + "/dev/token", json={"name": "Ann", "community": "demo", "role": "admin"})
    assert r.status_code == 404
    assert "not in development mode" in r.json()["error"]["message"]
    assert "token" not in r.json()
    assert httpx.get(server.url + "/dev/communities").status_code == 404


def test_web_client_is_served_with_the_pinned_sdk(web):
    index = httpx.get(web.url + "/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert 'src="vendor/centrifuge.js"' in index.text and 'src="js/main.js"' in index.text
    sdk = httpx.get(web.url + "/vendor/centrifuge.js")
    assert sdk.status_code == 200 and "globalThis.Centrifuge" in sdk.text
    module = httpx.get(web.url + "/js/main.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    # The committed bundle, and the tests' axe-core, match their manifests (version, checksum).
    check = subprocess.run([sys.executable, "scripts/build_webclient.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "centrifuge@" in check.stdout
    assert "axe-core@" in check.stdout
    # axe-core is for the tests only: the server does not serve it.
    assert httpx.get(web.url + "/vendor/axe.min.js").status_code == 404
