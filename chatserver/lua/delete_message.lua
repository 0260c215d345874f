-- delete_message.lua: remove one publication from a channel's history and announce it,
-- atomically: rewrite the stream without the entry (stream_lib.lua's rewrite: XDEL would
-- keep its bytes in the stream's node), record its offset as removed (so recovery still proves it
-- returns every publication or none), and append + publish the deletion event with the
-- next offset (so clients that were offline learn of it when they recover), through
-- stream_lib.lua's append, the same code publish.lua uses.
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m   (e = epoch, s = top offset)
-- KEYS[3]  removed offsets zset    chat:{<channel>}:d
-- KEYS[4]  edit events hash        chat:{<channel>}:x   (its edit event goes too)
--
-- ARGV[1]  offset of the publication to remove
-- ARGV[2]  deletion event payload (msgpack bytes, as publish.lua takes)
-- ARGV[3]  history size (max entries kept)
-- ARGV[4]  history ttl, seconds
-- ARGV[5]  meta ttl, seconds
-- ARGV[6]  epoch to start the stream with if it has none
-- ARGV[7]  pub/sub channel
--
-- Returns {removed (0|1), original payload or "", event offset, epoch}. Nothing is
-- published when the entry is not in the stream (already removed or trimmed).

local id = ARGV[1] .. "-0"
local found = redis.call("xrange", KEYS[1], id, id)
if #found == 0 then
  return {0, "", 0, redis.call("hget", KEYS[2], "e") or ""}
end
local original = ""
local fields = found[1][2]
for i = 1, #fields, 2 do
  if fields[i] == "d" then original = fields[i + 1] end
end
local changes = {[id] = false}
forget_edit(KEYS[4], KEYS[3], changes, ARGV[1])
rewrite(KEYS[1], changes)
redis.call("zadd", KEYS[3], tonumber(ARGV[1]), ARGV[1])

local offset, epoch = append(KEYS[1], KEYS[2], redis.call("hget", KEYS[2], "e"), ARGV[2],
  ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
-- Removed offsets far below the oldest kept entry can no longer matter for recovery.
local first = redis.call("xrange", KEYS[1], "-", "+", "COUNT", 1)
if #first > 0 then
  local first_offset = tonumber(string.match(first[1][1], "^(%d+)"))
  redis.call("zremrangebyscore", KEYS[3], "-inf", "(" .. (first_offset - tonumber(ARGV[3])))
end
redis.call("expire", KEYS[3], ARGV[4])
return {1, original, offset, epoch}
