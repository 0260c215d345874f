-- purge_messages.lua: remove a batch of publications from a channel's history for an
-- erasure, atomically: the stream is rewritten without them (stream_lib.lua's rewrite), their
-- offsets join the removed-offsets set (recovery stays all-or-nothing), and, for a room, one
-- deletion event per removed publication is appended and published (stream_lib.lua's append)
-- so members online see them go and members who recover later learn of it.
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m
-- KEYS[3]  removed offsets zset    chat:{<channel>}:d
-- KEYS[4]  edit events hash        chat:{<channel>}:x   (their edit events go too)
--
-- ARGV[1]        n, the number of offsets
-- ARGV[2..n+1]   offsets to remove
-- ARGV[n+2..n+6] history size, history ttl, meta ttl, epoch to start with, pub/sub channel
-- ARGV[n+7..]    n deletion event payloads, one per offset (none: remove silently)
--
-- Returns the number of publications removed (offsets no longer in the stream are skipped).

local n = tonumber(ARGV[1])
local base = n + 2
local with_events = #ARGV >= base + 4 + n
local changes = {}
local present = {}
for i = 2, n + 1 do
  local id = ARGV[i] .. "-0"
  if #redis.call("xrange", KEYS[1], id, id) > 0 then
    changes[id] = false
    present[#present + 1] = i
  end
end
if #present == 0 then
  return 0
end
for _, i in ipairs(present) do
  forget_edit(KEYS[4], KEYS[3], changes, ARGV[i])
end
rewrite(KEYS[1], changes)
for _, i in ipairs(present) do
  redis.call("zadd", KEYS[3], tonumber(ARGV[i]), ARGV[i])
end
redis.call("expire", KEYS[3], ARGV[base + 1])
if with_events then
  for _, i in ipairs(present) do
    append(KEYS[1], KEYS[2], redis.call("hget", KEYS[2], "e"), ARGV[base + 5 + (i - 2)],
      ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4])
  end
end
return #present
