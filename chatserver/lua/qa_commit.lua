-- qa_commit.lua: write a Q&A session's new state and publish its board events, atomically,
-- if nobody changed the session since it was read (optimistic concurrency on its version).
-- Events therefore reach the board channel in exactly the order the state changed.
--
-- KEYS[1]  session hash        qa:{<board>}:s:<session>   (v = version, d = msgpack session)
-- KEYS[2]  questions hash      qa:{<board>}:q:<session>   (question id -> msgpack question)
-- KEYS[3]  states hash         qa:{<board>}:st:<session>  (question id -> state, "@" -> session
--                                                          state; read by qa_vote.lua)
-- KEYS[4]  live session key    qa:{<board>}:live
-- KEYS[5]  stage key           qa:{<board>}:stage         (id of the session in stage mode)
-- KEYS[6]  sessions index      qa:{<board>}:idx           (zset: session id -> created at)
-- KEYS[7]  board history       chat:{<board>}:h
-- KEYS[8]  board stream meta   chat:{<board>}:m
--
-- ARGV[1]  expected version ("0": the session must not exist yet)
-- ARGV[2]  new version
-- ARGV[3]  session blob (msgpack)
-- ARGV[4]  session state ("scheduled" | "live" | "ended")
-- ARGV[5]  live change: "" | "start" (live key must be free or ours) | "end"
-- ARGV[6]  stage change: "" | "on" | "off"
-- ARGV[7]  session id
-- ARGV[8]  index score (created at, unix seconds)
-- ARGV[9]  ttl of the Q&A keys, seconds (refreshed on every write)
-- ARGV[10] history size, ARGV[11] history ttl, ARGV[12] meta ttl  (board channel)
-- ARGV[13] epoch to start the board stream with if it has none
-- ARGV[14] board pub/sub channel
-- ARGV[15] N, the number of changed questions; then N triples (id, blob, state)
-- then the payloads to publish on the board, in order.
--
-- Returns {1, epoch, first offset, last offset} (offsets 0 when nothing was published),
-- {0, "version", current version} or {0, "live", live session id}.

local current = tonumber(redis.call("hget", KEYS[1], "v") or "0")
if current ~= tonumber(ARGV[1]) then
  return {0, "version", current}
end
local sid = ARGV[7]
if ARGV[5] == "start" then
  local live = redis.call("get", KEYS[4])
  if live and live ~= sid then
    return {0, "live", live}
  end
  redis.call("set", KEYS[4], sid)
elseif ARGV[5] == "end" then
  if redis.call("get", KEYS[4]) == sid then
    redis.call("del", KEYS[4])
  end
end
if ARGV[6] == "on" then
  redis.call("set", KEYS[5], sid)
elseif ARGV[6] == "off" then
  if redis.call("get", KEYS[5]) == sid then
    redis.call("del", KEYS[5])
  end
end
local ttl = ARGV[9]
redis.call("hset", KEYS[1], "v", ARGV[2], "d", ARGV[3])
redis.call("hset", KEYS[3], "@", ARGV[4])
redis.call("zadd", KEYS[6], ARGV[8], sid)
local n = tonumber(ARGV[15])
local i = 16
for _ = 1, n do
  redis.call("hset", KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call("hset", KEYS[3], ARGV[i], ARGV[i + 2])
  i = i + 3
end
for k = 1, 6 do
  if redis.call("exists", KEYS[k]) == 1 then
    redis.call("expire", KEYS[k], ttl)
  end
end
local epoch = redis.call("hget", KEYS[8], "e")
if not epoch then
  epoch = ARGV[13]
  redis.call("hset", KEYS[8], "e", epoch)
end
local first = 0
local last = 0
while i <= #ARGV do
  local offset = redis.call("hincrby", KEYS[8], "s", 1)
  redis.call("xadd", KEYS[7], "MAXLEN", ARGV[10], tostring(offset) .. "-0", "d", ARGV[i])
  redis.call("publish", ARGV[14], tostring(offset) .. ":" .. epoch .. ":" .. ARGV[i])
  if first == 0 then first = offset end
  last = offset
  i = i + 1
end
if last > 0 then
  redis.call("expire", KEYS[7], ARGV[11])
end
redis.call("expire", KEYS[8], ARGV[12])
return {1, epoch, first, last}
