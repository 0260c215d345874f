-- webhook_due.lua: move deliveries whose retry time has come from the retry set back into
-- the outbox stream, atomically (ZREM + XADD in one call), so that whichever process runs
-- it, each retry is queued exactly once and none is lost between the two.
--
-- KEYS[1]  retry zset     wh:{wh}:retry    packed delivery -> due (ms)
-- KEYS[2]  outbox stream  wh:{wh}:outbox   field d = packed delivery
--
-- ARGV[1] now (ms), ARGV[2] at most this many
--
-- Returns how many were moved.

local due = redis.call("zrangebyscore", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call("zrem", KEYS[1], member)
  redis.call("xadd", KEYS[2], "*", "d", member)
end
return #due
