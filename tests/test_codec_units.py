"""The hand-written Protobuf codec agrees with the official generated classes
(centrifuge-python's client_pb2), and the JSON codec's framing rules."""

from __future__ import annotations

import orjson
import pytest
from centrifuge.protocol import client_pb2 as pb
from google.protobuf.json_format import MessageToDict, ParseDict

from chatserver.protocol import protobuf
from chatserver.protocol.codec import JSON, PROTOBUF, ProtocolError


def official_reply(data: bytes) -> dict:
    msg = pb.Reply()
    msg.ParseFromString(data)
    return MessageToDict(msg, preserving_proto_field_name=True)


def test_reply_encoding_matches_official_schema():
    reply = {
        "id": 7,
        "subscribe": {
            "recoverable": True,
            "positioned": True,
            "epoch": "ab12",
            "offset": 300,
            "recovered": True,
            "was_recovering": True,
            "publications": [
                {"data": b'{"a":1}', "offset": 299, "info": {"user": "u", "client": "c", "conn_info": b'{"n":1}'}},
                {"data": b"{}", "offset": 300, "tags": {"k": "v"}},
            ],
        },
    }
    decoded = official_reply(protobuf.encode("Reply", reply))
    assert decoded["id"] == 7
    sub = decoded["subscribe"]
    assert sub["epoch"] == "ab12" and sub["offset"] == "300" and sub["recovered"] is True
    assert [p["offset"] for p in sub["publications"]] == ["299", "300"]
    assert sub["publications"][0]["info"]["user"] == "u"
    assert sub["publications"][1]["tags"] == {"k": "v"}


def test_connect_result_and_push_match_official_schema():
    reply = {"id": 1, "connect": {"client": "c1", "version": "0.1", "expires": True, "ttl": 60, "ping": 25,
                                  "pong": True, "subs": {"user#u": {"recoverable": True, "epoch": "e"}}}}
    decoded = official_reply(protobuf.encode("Reply", reply))
    assert decoded["connect"]["subs"]["user#u"]["epoch"] == "e"
    push = {"push": {"channel": "a:b", "unsubscribe": {"code": 2500, "reason": "insufficient state"}}}
    assert official_reply(protobuf.encode("Reply", push))["push"]["unsubscribe"]["code"] == 2500
    err = {"id": 3, "error": {"code": 109, "message": "token expired"}}
    assert official_reply(protobuf.encode("Reply", err))["error"]["code"] == 109


@pytest.mark.parametrize(
    "command",
    [
        {"id": 1, "connect": {"token": "t", "name": "js", "subs": {"user#u": {"recover": True, "offset": "5", "epoch": "e"}}}},
        {"id": 2, "subscribe": {"channel": "a:b", "recover": True, "offset": "18446744073709551615", "epoch": "x", "flag": "2"}},
        {"id": 3, "publish": {"channel": "a:b", "data": "eyJ0ZXh0IjoiaGkifQ=="}},
        {"id": 4, "history": {"channel": "a:b", "limit": 10, "since": {"offset": "3", "epoch": "e"}, "reverse": True}},
        {"id": 5, "rpc": {"method": "chat.send", "data": "e30="}},
        {"id": 6, "ping": {}},
    ],
)
def test_command_decoding_matches_official_schema(command):
    encoded = ParseDict(command, pb.Command()).SerializeToString()
    decoded = protobuf.decode("Command", encoded)
    official = MessageToDict(pb.Command.FromString(encoded), preserving_proto_field_name=True)
    method = next(k for k in official if k != "id")
    assert decoded["id"] == official["id"]
    for key, value in official[method].items():
        got = decoded[method][key]
        if key == "data":
            import base64

            assert got == base64.b64decode(value)
        elif key in ("offset", "flag"):
            assert got == int(value)
        elif isinstance(value, dict) and key == "since":
            assert got["offset"] == int(value["offset"]) and got["epoch"] == value["epoch"]
        elif isinstance(value, dict) and key == "subs":
            assert got["user#u"]["recover"] is True and got["user#u"]["offset"] == 5
        else:
            assert got == value


def test_protobuf_stream_framing_and_errors():
    msgs = [protobuf.encode("Command", {"id": i, "ping": {}}) for i in range(1, 4)]
    stream = b"".join(protobuf.frame(m) for m in msgs)
    assert [c["id"] for c in PROTOBUF.decode_commands(stream)] == [1, 2, 3]
    with pytest.raises(ProtocolError):
        PROTOBUF.decode_commands(b"\x0a\x01")
    with pytest.raises(ProtocolError):
        PROTOBUF.decode_commands("text frame")
    assert PROTOBUF.decode_commands(b"\x00") == [{}]  # an empty command: the client's pong


def test_json_codec_batches_and_raw_data():
    cmds = JSON.decode_commands('{"id":1,"connect":{}}\n{"id":2,"ping":{}}\n')
    assert [c["id"] for c in cmds] == [1, 2]
    with pytest.raises(ProtocolError):
        JSON.decode_commands('{"id":1,')
    with pytest.raises(ProtocolError):
        JSON.decode_commands("[1,2]")
    encoded = JSON.encode({"push": {"channel": "a:b", "pub": {"data": b'{"text":"x"}', "offset": 1}}})
    assert orjson.loads(encoded)["push"]["pub"]["data"] == {"text": "x"}
    assert JSON.join([b"a", b"b"]) == b"a\nb"


def test_varint_round_trip():
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1):
        assert protobuf.read_varint(protobuf.varint(value), 0)[0] == value
