-- crisis_transition.lua: move a case from one of the expected states to a new one by
-- compare-and-set (two moderators acknowledging at once: exactly one wins, the other is
-- told it is already acknowledged). Leaving "open" takes the case off the ack-due index;
-- closing frees the member's open-case slot and starts the closed case's retention.
--
-- KEYS[1]  case hash         crisis:{<c>}:case:<id>
-- KEYS[2]  open cases hash   crisis:{<c>}:open
-- KEYS[3]  ack due zset      crisis:{<c>}:due
-- KEYS[4]  case items list   crisis:{<c>}:items:<id>
--
-- ARGV[1] case id, ARGV[2] expected states ("open,acknowledged"), ARGV[3] new state,
-- ARGV[4] retention of a closed case (s), ARGV[5..] fields to set (name, value, ...)
--
-- Returns {state before ("" if no such case), changed (0|1)}.

local state = redis.call("hget", KEYS[1], "state")
if not state then
  return {"", 0}
end
local allowed = false
for s in string.gmatch(ARGV[2], "[^,]+") do
  if s == state then
    allowed = true
  end
end
if not allowed then
  return {state, 0}
end
redis.call("hset", KEYS[1], "state", ARGV[3])
for i = 5, #ARGV, 2 do
  redis.call("hset", KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[3] ~= "open" then
  redis.call("zrem", KEYS[3], ARGV[1])
end
if ARGV[3] == "closed" then
  local user = redis.call("hget", KEYS[1], "user")
  if user and redis.call("hget", KEYS[2], user) == ARGV[1] then
    redis.call("hdel", KEYS[2], user)
  end
  redis.call("expire", KEYS[1], ARGV[4])
  redis.call("expire", KEYS[4], ARGV[4])
end
return {state, 1}
