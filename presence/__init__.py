"""Presence rules: who counts as online in a room, and which join/leave events to announce.

Pure functions over plain data; the Redis side lives in ``chatserver.redis.presence``.
"""
