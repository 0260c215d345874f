-- crisis_escalate.lua: escalate a case nobody acknowledged in time. Every process sweeps
-- the ack-due index; this compare-and-set makes exactly one of them escalate each case.
-- The winner must announce it (feeds, audit log, webhook); until it says it did
-- (ZREM from the notify index), the case waits there, so if that process dies first, a
-- sweeper announces it after the grace time (crisis_renotify.lua): at least once.
--
-- KEYS[1]  case hash         crisis:{<c>}:case:<id>
-- KEYS[2]  ack due zset      crisis:{<c>}:due
-- KEYS[3]  notify zset       crisis:{<c>}:notify     case id -> announce again after (ms)
--
-- ARGV[1] case id, ARGV[2] now (ms), ARGV[3] grace (ms)
--
-- Returns 1 to the one caller that escalates, else 0.

local state = redis.call("hget", KEYS[1], "state")
if state ~= "open" or redis.call("hexists", KEYS[1], "escalated_at") == 1 then
  redis.call("zrem", KEYS[2], ARGV[1])
  return 0
end
local deadline = tonumber(redis.call("hget", KEYS[1], "deadline") or "0")
if deadline > tonumber(ARGV[2]) then
  return 0
end
redis.call("hset", KEYS[1], "escalated_at", ARGV[2])
redis.call("zrem", KEYS[2], ARGV[1])
redis.call("zadd", KEYS[3], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 1
