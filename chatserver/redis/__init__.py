"""Redis adapters: the broker (history + publish in Lua), the pub/sub subscriber, and stores.

Every key of a channel carries the hash tag ``{<channel>}`` so that, on a Redis Cluster, all
of a channel's keys live in one slot and its Lua scripts stay single-slot.
"""
