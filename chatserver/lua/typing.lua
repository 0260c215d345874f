-- typing.lua: one member's typing indicator in one room.
--
-- KEYS[1]  chat:{<channel>}:ty           zset user -> indicator expiry, unix ms
-- KEYS[2]  chat:{<channel>}:tl:<user>    rate-limit mark (SET NX PX)
--
-- ARGV[1]  action: "start", "stop" or "expire"
-- ARGV[2]  user
-- ARGV[3]  now, unix ms
-- ARGV[4]  start: the indicator's expiry, unix ms
-- ARGV[5]  start: rate-limit interval, ms
-- ARGV[6]  the room's pub/sub channel
-- ARGV[7]  the message to publish ("0::" .. msgpack payload: no offset, never in history)
-- ARGV[8]  key expiry, seconds
--
-- start:  publish unless the member sent one within the interval (across every process);
--         returns 1 when published, else minus the ms until the next one is allowed.
-- stop:   publish when the member's indicator was recorded (showing, or lapsed without
--         its stop having gone out yet); returns 1 or 0.
-- expire: publish when the indicator lapsed without a refresh (checked by whoever set a
--         timer for it; only the first caller publishes); returns 1 or 0.

local action = ARGV[1]
local user = ARGV[2]
local now = tonumber(ARGV[3])
redis.call("zremrangebyscore", KEYS[1], "-inf", now - 60000)

if action == "start" then
  if not redis.call("set", KEYS[2], "1", "NX", "PX", ARGV[5]) then
    local left = redis.call("pttl", KEYS[2])
    if left < 1 then left = 1 end
    return -left
  end
  redis.call("zadd", KEYS[1], ARGV[4], user)
  redis.call("expire", KEYS[1], ARGV[8])
  redis.call("publish", ARGV[6], ARGV[7])
  return 1
end

local expires = redis.call("zscore", KEYS[1], user)
if not expires then
  return 0
end
if action == "stop" then
  redis.call("zrem", KEYS[1], user)
  redis.call("publish", ARGV[6], ARGV[7])
  return 1
end
if action == "expire" then
  if tonumber(expires) <= now then
    redis.call("zrem", KEYS[1], user)
    redis.call("publish", ARGV[6], ARGV[7])
    return 1
  end
  return 0
end
return redis.error_reply("ERR unknown typing action " .. tostring(action))
