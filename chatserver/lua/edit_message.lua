-- edit_message.lua: replace a publication's payload in a channel's history and announce the
-- edit, atomically: the stream is rewritten with the entry's new payload at its own offset
-- (stream_lib.lua's rewrite: history then keeps only the latest text), and the edit event
-- is appended and published with the next offset (stream_lib.lua's append), so live clients
-- and clients that recover later both converge on the latest text. The message's previous
-- edit event (with the previous text) leaves the stream in the same rewrite.
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m
-- KEYS[3]  removed offsets zset    chat:{<channel>}:d
-- KEYS[4]  edit events hash        chat:{<channel>}:x   (message offset -> its edit event's)
--
-- ARGV[1]  offset of the publication to edit
-- ARGV[2]  its payload as the caller read it (compare-and-set: a concurrent change wins)
-- ARGV[3]  the new payload of the publication
-- ARGV[4]  the edit event's payload
-- ARGV[5]  history size
-- ARGV[6]  history ttl, seconds
-- ARGV[7]  meta ttl, seconds
-- ARGV[8]  epoch to start the stream with if it has none
-- ARGV[9]  pub/sub channel
--
-- Returns {status, event offset, epoch}: status 1 edited, 0 the entry is gone (deleted or
-- trimmed), -1 the entry changed since the caller read it.

local id = ARGV[1] .. "-0"
local found = redis.call("xrange", KEYS[1], id, id)
if #found == 0 then
  return {0, 0, ""}
end
local current = false
local fields = found[1][2]
for i = 1, #fields, 2 do
  if fields[i] == "d" then current = fields[i + 1] end
end
if current ~= ARGV[2] then
  return {-1, 0, ""}
end
local changes = {[id] = ARGV[3]}
forget_edit(KEYS[4], KEYS[3], changes, ARGV[1])
rewrite(KEYS[1], changes)
local offset, epoch = append(KEYS[1], KEYS[2], redis.call("hget", KEYS[2], "e"), ARGV[4],
  ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
redis.call("hset", KEYS[4], ARGV[1], offset)
redis.call("expire", KEYS[4], ARGV[6])
redis.call("expire", KEYS[3], ARGV[6])
return {1, offset, epoch}
