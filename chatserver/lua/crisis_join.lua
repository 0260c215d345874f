-- crisis_join.lua: add a crisis message to a member's open case (a second crisis message
-- joins the open case instead of opening another). Fails when the case is gone or closed
-- (closed meanwhile): the caller then forgets the stale pointer and opens a new case.
--
-- KEYS[1]  case hash         crisis:{<c>}:case:<id>
-- KEYS[2]  case items list   crisis:{<c>}:items:<id>
-- KEYS[3]  open cases hash   crisis:{<c>}:open
--
-- ARGV[1] item (msgpack), ARGV[2] now (ms), ARGV[3] case id, ARGV[4] user, ARGV[5] max items
--
-- Returns 1 when joined, 0 when the case is not open (its open pointer is dropped).

local state = redis.call("hget", KEYS[1], "state")
if (not state) or state == "closed" then
  if redis.call("hget", KEYS[3], ARGV[4]) == ARGV[3] then
    redis.call("hdel", KEYS[3], ARGV[4])
  end
  return 0
end
redis.call("rpush", KEYS[2], ARGV[1])
redis.call("ltrim", KEYS[2], -tonumber(ARGV[5]), -1)
redis.call("hincrby", KEYS[1], "count", 1)
redis.call("hset", KEYS[1], "last_at", ARGV[2])
return 1
