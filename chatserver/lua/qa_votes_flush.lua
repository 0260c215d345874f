-- qa_votes_flush.lua: publish the current counts of every question whose votes changed since
-- the last flush, as ONE board event, atomically (counts read and published in one step, so
-- the last count event on the board is always the exact count).
--
-- KEYS[1]  dirty set           qa:{<board>}:dv:<session>
-- KEYS[2]  vote counts hash    qa:{<board>}:c:<session>
-- KEYS[3]  board history       chat:{<board>}:h
-- KEYS[4]  board stream meta   chat:{<board>}:m
--
-- ARGV[1]  session id (hex)
-- ARGV[2]  payload prefix: the msgpack publication envelope (see chatserver/publication.py)
--          up to and including the key "d", whose bin value this script appends
-- ARGV[3]  history size, ARGV[4] history ttl, ARGV[5] meta ttl
-- ARGV[6]  epoch to start the board stream with if it has none
-- ARGV[7]  board pub/sub channel
--
-- Publishes data {"type":"qa.votes","session":"<id>","counts":{"<question>":n,...}} and
-- returns {offset, number of questions}, or {0, 0} when nothing changed.

local dirty = redis.call("smembers", KEYS[1])
if #dirty == 0 then
  return {0, 0}
end
redis.call("del", KEYS[1])
table.sort(dirty)
local counts = redis.call("hmget", KEYS[2], unpack(dirty))
local parts = {}
for i, qid in ipairs(dirty) do
  parts[i] = '"' .. qid .. '":' .. tostring(tonumber(counts[i] or "0") or 0)
end
local json = '{"type":"qa.votes","session":"' .. ARGV[1] .. '","counts":{' .. table.concat(parts, ",") .. '}}'
local n = #json
local header
if n < 256 then
  header = "\196" .. string.char(n)
elseif n < 65536 then
  header = "\197" .. string.char(math.floor(n / 256), n % 256)
else
  header = "\198" .. string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end
local payload = ARGV[2] .. header .. json
local epoch = redis.call("hget", KEYS[4], "e")
if not epoch then
  epoch = ARGV[6]
  redis.call("hset", KEYS[4], "e", epoch)
end
local offset = redis.call("hincrby", KEYS[4], "s", 1)
redis.call("xadd", KEYS[3], "MAXLEN", ARGV[3], tostring(offset) .. "-0", "d", payload)
redis.call("expire", KEYS[3], ARGV[4])
redis.call("expire", KEYS[4], ARGV[5])
redis.call("publish", ARGV[7], tostring(offset) .. ":" .. epoch .. ":" .. payload)
return {offset, #dirty}
