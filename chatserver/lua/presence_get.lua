-- presence_get.lua: drop expired presence entries, then return the live ones.
--
-- KEYS[1]  presence hash     chat:{<channel>}:pr   (client id -> msgpack client info)
-- KEYS[2]  expiry zset       chat:{<channel>}:pe   (client id -> expires at, unix seconds)
-- ARGV[1]  now, unix seconds
--
-- Returns the hash as a flat list {client id, info, ...}.

local expired = redis.call("zrangebyscore", KEYS[2], "-inf", ARGV[1])
if #expired > 0 then
  redis.call("zremrangebyscore", KEYS[2], "-inf", ARGV[1])
  for i = 1, #expired, 500 do
    redis.call("hdel", KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
  end
end
return redis.call("hgetall", KEYS[1])
