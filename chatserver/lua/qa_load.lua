-- qa_load.lua: one Q&A session's state and the board channel's position, read together.
--
-- KEYS[1]  session hash        qa:{<board>}:s:<session>   (v = version, d = msgpack session)
-- KEYS[2]  questions hash      qa:{<board>}:q:<session>   (question id -> msgpack question)
-- KEYS[3]  vote counts hash    qa:{<board>}:c:<session>   (question id -> votes)
-- KEYS[4]  live session key    qa:{<board>}:live          (id of the room's live session)
-- KEYS[5]  board stream meta   chat:{<board>}:m           (e = epoch, s = top offset)
--
-- ARGV[1]  "1": include questions and counts; "0": the session only
--
-- Returns {session blob or false, {id, blob, ...}, {id, count, ...}, live id or false,
-- top offset, epoch or ""}. <board> is the board channel "<community>:<room>/qa", so every
-- key shares its cluster slot.

local session = redis.call("hget", KEYS[1], "d")
local questions = {}
local counts = {}
if session and ARGV[1] == "1" then
  questions = redis.call("hgetall", KEYS[2])
  counts = redis.call("hgetall", KEYS[3])
end
local live = redis.call("get", KEYS[4])
local meta = redis.call("hmget", KEYS[5], "s", "e")
return {session, questions, counts, live, tonumber(meta[1]) or 0, meta[2] or ""}
