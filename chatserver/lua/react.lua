-- react.lua: give or take back one member's support reaction on one message and publish the
-- message's new counts in the room's stream, atomically (stream_lib.lua's append is
-- prepended, as for publish.lua).
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m
-- KEYS[3]  reactors set            chat:{<channel>}:r:<message id>   ("<reaction>:<user>")
-- KEYS[4]  counts hash             chat:{<channel>}:rc:<message id>  (reaction -> count)
-- KEYS[5]  rate counter            chat:{<channel>}:rr:<user>
--
-- ARGV[1]  message offset          ARGV[2]  message id
-- ARGV[3]  user                    ARGV[4]  reaction
-- ARGV[5]  "1" give, "0" take back
-- ARGV[6]  rate (changes per window)   ARGV[7]  window, seconds
-- ARGV[8]  payload prefix (msgpack: the map header, "k", "tm" and the key "d")
-- ARGV[9]  event JSON up to its counts (ends with "counts":)
-- ARGV[10] history size   ARGV[11] history ttl   ARGV[12] meta ttl
-- ARGV[13] epoch to start the stream with   ARGV[14] pub/sub channel
--
-- Returns {status, counts (flat list reaction, n), offset, retry_ms}:
--   status 1 changed (event published at offset), 0 already so (nothing published),
--   -1 no such message at that offset (removed or out of history), -2 too many changes
--   (retry_ms: when the window ends).

local entry = redis.call("xrange", KEYS[1], ARGV[1] .. "-0", ARGV[1] .. "-0")
if #entry == 0 then return {-1, {}, 0, 0} end
local payload = ""
local fields = entry[1][2]
for i = 1, #fields, 2 do
  if fields[i] == "d" then payload = fields[i + 1] end
end
-- The entry must be the message itself. Its JSON is embedded raw in the msgpack payload
-- (the bundled cmsgpack cannot read bin fields), and user text in it is JSON-escaped, so
-- these two fragments can only come from the event's own keys.
if not string.find(payload, '"type":"message"', 1, true)
    or not string.find(payload, '"id":' .. cjson.encode(ARGV[2]), 1, true) then
  return {-1, {}, 0, 0}
end

local function counts_list()
  return redis.call("hgetall", KEYS[4])
end

local member = ARGV[4] .. ":" .. ARGV[3]
local has = redis.call("sismember", KEYS[3], member)
if (ARGV[5] == "1" and has == 1) or (ARGV[5] == "0" and has == 0) then
  return {0, counts_list(), 0, 0}
end

local used = tonumber(redis.call("get", KEYS[5]) or "0")
if used >= tonumber(ARGV[6]) then
  return {-2, {}, 0, redis.call("pttl", KEYS[5])}
end
if redis.call("incr", KEYS[5]) == 1 then redis.call("expire", KEYS[5], ARGV[7]) end

if ARGV[5] == "1" then
  redis.call("sadd", KEYS[3], member)
  redis.call("hincrby", KEYS[4], ARGV[4], 1)
else
  redis.call("srem", KEYS[3], member)
  if redis.call("hincrby", KEYS[4], ARGV[4], -1) <= 0 then redis.call("hdel", KEYS[4], ARGV[4]) end
end
redis.call("expire", KEYS[3], ARGV[11])
redis.call("expire", KEYS[4], ARGV[11])

-- The event's counts, as a JSON object (an empty one when nothing is left).
local flat = counts_list()
local parts = {}
for i = 1, #flat, 2 do
  parts[#parts + 1] = cjson.encode(flat[i]) .. ":" .. tonumber(flat[i + 1])
end
local json = ARGV[9] .. "{" .. table.concat(parts, ",") .. "}}"
-- msgpack bin 32: 0xc6 and the length, big-endian.
local n = #json
local header = string.char(0xc6, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
  math.floor(n / 256) % 256, n % 256)
local offset = append(KEYS[1], KEYS[2], redis.call("hget", KEYS[2], "e"), ARGV[8] .. header .. json,
  ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
return {1, flat, offset, 0}
