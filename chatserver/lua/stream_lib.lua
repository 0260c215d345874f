-- stream_lib.lua: the one way a publication enters a channel's stream (prepended to
-- publish.lua and delete_message.lua when they are loaded).
--
-- append(stream, meta, epoch, payload, size, ttl, meta_ttl, new_epoch, pubsub)
--   epoch: the meta hash's "e" as already read (false when the stream has none yet; then
--   new_epoch starts it). Assigns the next offset, appends the payload (exact MAXLEN trim),
--   refreshes the expiries and publishes "<offset>:<epoch>:<payload>". Returns offset, epoch.

local function append(stream, meta, epoch, payload, size, ttl, meta_ttl, new_epoch, pubsub)
  if not epoch then
    epoch = new_epoch
    redis.call("hset", meta, "e", epoch)
  end
  local offset = redis.call("hincrby", meta, "s", 1)
  redis.call("expire", meta, meta_ttl)
  redis.call("xadd", stream, "MAXLEN", size, tostring(offset) .. "-0", "d", payload)
  redis.call("expire", stream, ttl)
  redis.call("publish", pubsub, tostring(offset) .. ":" .. epoch .. ":" .. payload)
  return offset, epoch
end
