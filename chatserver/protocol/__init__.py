"""The Centrifuge client protocol v2: codes, and codecs for JSON and Protobuf frames.

A codec turns a received frame into a list of command dicts (the JSON shape, snake_case,
with ``data`` fields as raw JSON bytes in Protobuf mode and parsed values in JSON mode) and
turns reply dicts into ready-to-send bytes. Raw JSON payloads are carried as ``bytes``.
"""
