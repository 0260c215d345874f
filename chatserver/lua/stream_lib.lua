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

-- rewrite(stream, changes): re-create the stream with its entries in order and their ids,
-- replacing the payload of the entries named in ``changes`` (entry id -> new payload) or
-- leaving them out (entry id -> false). A stream entry cannot be changed in place, and XDEL
-- only marks an entry deleted inside its node (its bytes stay in memory and in RDB files
-- until the whole node goes), so a text a member edited or deleted is really gone only once
-- the stream is rewritten. Costs one XADD per kept entry (bounded by the history size). The
-- key's expiry is kept.
local function rewrite(stream, changes)
  local all = redis.call("xrange", stream, "-", "+")
  local pttl = redis.call("pttl", stream)
  redis.call("del", stream)
  for _, e in ipairs(all) do
    local payload = false
    local fields = e[2]
    for i = 1, #fields, 2 do
      if fields[i] == "d" then payload = fields[i + 1] end
    end
    local change = changes[e[1]]
    if change ~= nil then payload = change end
    if payload then
      redis.call("xadd", stream, e[1], "d", payload)
    end
  end
  if pttl > 0 then
    redis.call("pexpire", stream, pttl)
  end
end

-- forget_edit(edits, removed, changes, offset): the publication at ``offset`` is being edited
-- again or removed, so its latest edit event (which carries the previous text) leaves the
-- stream too: marked in ``changes`` for rewrite and recorded as removed (recovery stays
-- exact). ``edits`` (chat:{<channel>}:x) maps a message's offset to its edit event's offset.
local function forget_edit(edits, removed, changes, offset)
  local previous = redis.call("hget", edits, offset)
  if previous then
    changes[previous .. "-0"] = false
    redis.call("zadd", removed, tonumber(previous), previous)
    redis.call("hdel", edits, offset)
  end
end
