-- publish.lua: append a publication to a channel's history and publish it, atomically.
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m   (fields: e = epoch, s = top offset)
-- KEYS[3]  idempotency key         chat:{<channel>}:i:<user>:<client message id>
--
-- ARGV[1]  payload (msgpack bytes)
-- ARGV[2]  history size (max entries kept; exact trim)
-- ARGV[3]  history ttl, seconds
-- ARGV[4]  meta ttl, seconds (longer than the history ttl, so the epoch outlives a quiet room)
-- ARGV[5]  epoch to start the stream with if it has none
-- ARGV[6]  pub/sub channel
-- ARGV[7]  idempotency ttl, seconds ("0": no idempotency key)
--
-- Publishes "<offset>:<epoch>:" .. payload and returns {offset, epoch, duplicate}.
-- duplicate = 1 when the idempotency key already existed: nothing is appended or published,
-- and the offset is the one the first attempt got. ``append`` is in stream_lib.lua.

local epoch = redis.call("hget", KEYS[2], "e")
if ARGV[7] ~= "0" then
  local previous = redis.call("get", KEYS[3])
  if previous then
    return {tonumber(previous), epoch or "", 1}
  end
end
local offset
offset, epoch = append(KEYS[1], KEYS[2], epoch, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if ARGV[7] ~= "0" then
  redis.call("set", KEYS[3], offset, "EX", ARGV[7])
end
return {offset, epoch, 0}
