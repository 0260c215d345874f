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
-- and the offset is the one the first attempt got.

local epoch = redis.call("hget", KEYS[2], "e")
if ARGV[7] ~= "0" then
  local previous = redis.call("get", KEYS[3])
  if previous then
    return {tonumber(previous), epoch or "", 1}
  end
end
if not epoch then
  epoch = ARGV[5]
  redis.call("hset", KEYS[2], "e", epoch)
end
local offset = redis.call("hincrby", KEYS[2], "s", 1)
redis.call("expire", KEYS[2], ARGV[4])
redis.call("xadd", KEYS[1], "MAXLEN", ARGV[2], tostring(offset) .. "-0", "d", ARGV[1])
redis.call("expire", KEYS[1], ARGV[3])
if ARGV[7] ~= "0" then
  redis.call("set", KEYS[3], offset, "EX", ARGV[7])
end
redis.call("publish", ARGV[6], tostring(offset) .. ":" .. epoch .. ":" .. ARGV[1])
return {offset, epoch, 0}
