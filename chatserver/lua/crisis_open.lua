-- crisis_open.lua: open a crisis case for a member, unless the member already has an open
-- (not closed) case in the community: then return that case's id so the caller joins it.
-- One open case per member per community, decided here atomically.
-- Every key is under the community's hash tag {<community>} (one cluster slot).
--
-- KEYS[1]  open cases hash   crisis:{<c>}:open        user -> case id
-- KEYS[2]  case hash         crisis:{<c>}:case:<id>
-- KEYS[3]  case items list   crisis:{<c>}:items:<id>
-- KEYS[4]  case index zset   crisis:{<c>}:cases       case id -> opened (ms)
-- KEYS[5]  ack due zset      crisis:{<c>}:due         case id -> ack deadline (ms)
--
-- ARGV[1] user, ARGV[2] case id, ARGV[3] now (ms), ARGV[4] ack deadline (ms),
-- ARGV[5] first item (msgpack), ARGV[6..] more case fields (name, value, ...)
--
-- Returns {case id, created (0|1)}.

local existing = redis.call("hget", KEYS[1], ARGV[1])
if existing then
  return {existing, 0}
end
redis.call("hset", KEYS[2], "id", ARGV[2], "state", "open", "user", ARGV[1],
  "opened_at", ARGV[3], "deadline", ARGV[4], "last_at", ARGV[3], "count", 1)
for i = 6, #ARGV, 2 do
  redis.call("hset", KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call("rpush", KEYS[3], ARGV[5])
redis.call("zadd", KEYS[4], ARGV[3], ARGV[2])
redis.call("zadd", KEYS[5], ARGV[4], ARGV[2])
redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
return {ARGV[2], 1}
