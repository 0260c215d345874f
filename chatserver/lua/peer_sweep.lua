-- Posts whose reply_wait has passed move from pending to the waiting list, each exactly once
-- (whichever process runs this first takes it).
-- KEYS: posts (hash), pending (zset), waiting (zset); ARGV: now (ms), limit
-- Returns the moved posts' json.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, key in ipairs(due) do
  redis.call('ZREM', KEYS[2], key)
  local raw = redis.call('HGET', KEYS[1], key)
  if raw then
    local post = cjson.decode(raw)
    redis.call('ZADD', KEYS[3], post.ts, key)
    table.insert(out, raw)
  end
end
return out
