-- A reply (or a counted reaction) to a tracked post in a support room.
-- KEYS: posts (hash), pending (zset), waiting (zset), taken (hash)  -- one community's
-- ARGV: post key, the replier's user id
-- Returns nil (not tracked, or the author answering themselves) or {post json, was waiting (0/1)}.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return nil
end
local post = cjson.decode(raw)
if post.user == ARGV[2] then
  return nil
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local waiting = redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return {raw, waiting}
