-- hold_create.lua: store a held item and queue it for review, once per client message id.
--
-- KEYS[1]  hold hash               mod:{<channel>}:hold:<hold id>  (r = record, s = status)
-- KEYS[2]  pending queue zset      mod:{<channel>}:holdq           (hold id -> created ms)
-- KEYS[3]  idempotency key         mod:{<channel>}:hi:<user>:<client message id>
--
-- ARGV[1]  hold id
-- ARGV[2]  record (msgpack bytes)
-- ARGV[3]  created, ms (queue score)
-- ARGV[4]  ttl of the hold hash, seconds (review time + retention)
-- ARGV[5]  ttl of the idempotency key, seconds ("0": no client message id)
--
-- Returns {hold id, created (0|1)}: a retry with a known client message id returns the
-- first hold's id and stores nothing.

if ARGV[5] ~= "0" then
  local existing = redis.call("get", KEYS[3])
  if existing then
    return {existing, 0}
  end
end
redis.call("hset", KEYS[1], "r", ARGV[2], "s", "pending")
redis.call("expire", KEYS[1], ARGV[4])
redis.call("zadd", KEYS[2], ARGV[3], ARGV[1])
if ARGV[5] ~= "0" then
  redis.call("set", KEYS[3], ARGV[1], "EX", ARGV[5])
end
return {ARGV[1], 1}
