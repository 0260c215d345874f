-- presence_apply.lua: this node's joins and leaves in one room, applied in order, after
-- sweeping dead nodes. Prepended with presence_lib.lua (KEYS and ARGV header there).
--
-- ARGV[BODY]      "1": this call is also a heartbeat (push this node's deadline forward,
--                 refresh the keys' expiry), "0": operations only
-- ARGV[BODY+1 ..] operations, each one of
--                   "j", client id, user, member (flags digit .. msgpack), entry (msgpack client info)
--                   "l", client id, user
--
-- Returns {lost, due, published, counters}: lost = 1 when this node had no live presence
-- in the room before the call (it was swept as dead, or never joined) so the caller should
-- add its connections again; due = 1 when the caller must publish a count event soon;
-- published = join/leave messages sent; counters as a flat field/value list.

local i = BODY + 1
while i <= #ARGV do
  local op = ARGV[i]
  if op == "j" then
    i = i + 5
  elseif op == "l" then
    i = i + 3
  else
    return redis.error_reply("ERR unknown presence operation " .. tostring(op))
  end
end
if i ~= #ARGV + 1 then
  return redis.error_reply("ERR truncated presence operation")
end

local was_alive = node_live
local joins_only = true
sweep()
i = BODY + 1
while i <= #ARGV do
  if ARGV[i] == "j" then
    join(NODE, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
    i = i + 5
  else
    leave(NODE, ARGV[i + 1], ARGV[i + 2])
    joins_only = false
    i = i + 3
  end
end

local beat = ARGV[BODY] == "1"
-- Only joins since the sweep: this node surely has entries; else look.
if (joins_only and node_live and i > BODY + 1) or node_has_entries(NODE) then
  if beat then redis.call("zadd", KEYS[6], DEADLINE, NODE) end
else
  redis.call("zrem", KEYS[6], NODE)
end
if beat then expire_keys() end
tidy()

local lost = 0
if (not was_alive) or swept_self then lost = 1 end
return {lost, due, published, counters()}
