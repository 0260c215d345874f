-- qa_vote.lua: cast or withdraw one member's vote for one question, at most once each.
--
-- KEYS[1]  states hash         qa:{<board>}:st:<session>  (question id -> state, "@" -> session state)
-- KEYS[2]  voters set          qa:{<board>}:v:<session>:<question>
-- KEYS[3]  vote counts hash    qa:{<board>}:c:<session>
-- KEYS[4]  dirty set           qa:{<board>}:dv:<session>  (questions whose count changed and
--                                                          has not been published yet)
--
-- ARGV[1]  question id
-- ARGV[2]  user id
-- ARGV[3]  "1" cast, "0" withdraw
-- ARGV[4]  ttl of the Q&A keys, seconds
-- ARGV[5]  question states that take votes, space-framed: " answering published "
-- ARGV[6]  session states that take votes, space-framed: " scheduled live "
--          (both from rooms.qa.model, so the rules live in one place)
--
-- Returns {1, count} when the vote changed, {0, count} when it was already so, or
-- {-1, "<session state>", "<question state>"} when votes are closed.

local session_state = redis.call("hget", KEYS[1], "@")
local state = redis.call("hget", KEYS[1], ARGV[1])
local function among(value, framed)
  return value and string.find(framed, " " .. value .. " ", 1, true) ~= nil
end
if not among(session_state, ARGV[6]) or not among(state, ARGV[5]) then
  return {-1, session_state or "", state or ""}
end
local changed
if ARGV[3] == "1" then
  changed = redis.call("sadd", KEYS[2], ARGV[2])
else
  changed = redis.call("srem", KEYS[2], ARGV[2])
end
local count
if changed == 1 then
  count = redis.call("hincrby", KEYS[3], ARGV[1], ARGV[3] == "1" and 1 or -1)
  redis.call("sadd", KEYS[4], ARGV[1])
  redis.call("expire", KEYS[2], ARGV[4])
  redis.call("expire", KEYS[3], ARGV[4])
  redis.call("expire", KEYS[4], ARGV[4])
else
  count = tonumber(redis.call("hget", KEYS[3], ARGV[1]) or "0")
end
return {changed, count}
