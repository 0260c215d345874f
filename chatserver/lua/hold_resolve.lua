-- hold_resolve.lua: move a hold from one status to another if (and only if) it is in the
-- expected status, so that two moderators, or a moderator and the expiry sweeper, never
-- both resolve the same hold.
--
-- KEYS[1]  hold hash               mod:{<channel>}:hold:<hold id>
-- KEYS[2]  pending queue zset      mod:{<channel>}:holdq
--
-- ARGV[1]  hold id
-- ARGV[2]  expected status (e.g. "pending")
-- ARGV[3]  new status ("approved", "rejected", "expired", or "pending" to undo)
-- ARGV[4]  resolution (msgpack bytes; "" clears it)
-- ARGV[5]  queue score when the new status is "pending"
--
-- Returns {status before, changed (0|1)}; status before is "" when the hold does not exist.

local status = redis.call("hget", KEYS[1], "s")
if not status then
  return {"", 0}
end
if status ~= ARGV[2] then
  return {status, 0}
end
redis.call("hset", KEYS[1], "s", ARGV[3])
if ARGV[4] == "" then
  redis.call("hdel", KEYS[1], "x")
else
  redis.call("hset", KEYS[1], "x", ARGV[4])
end
if ARGV[3] == "pending" then
  redis.call("zadd", KEYS[2], ARGV[5], ARGV[1])
else
  redis.call("zrem", KEYS[2], ARGV[1])
end
return {status, 1}
