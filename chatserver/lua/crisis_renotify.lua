-- crisis_renotify.lua: claim an escalation whose announcement was not confirmed in time
-- (the escalating process died): push its time forward by the grace, so exactly one sweeper
-- announces it now, and another one later if this one dies too.
--
-- KEYS[1]  notify zset       crisis:{<c>}:notify
--
-- ARGV[1] case id, ARGV[2] now (ms), ARGV[3] grace (ms)
--
-- Returns 1 to the one caller that should announce, else 0.

local at = redis.call("zscore", KEYS[1], ARGV[1])
if (not at) or tonumber(at) > tonumber(ARGV[2]) then
  return 0
end
redis.call("zadd", KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 1
