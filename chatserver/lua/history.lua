-- history.lua: a channel's stream position, and publications from its history.
--
-- KEYS[1]  history stream          chat:{<channel>}:h
-- KEYS[2]  stream meta hash        chat:{<channel>}:m
-- KEYS[3]  deleted offsets zset    chat:{<channel>}:d   (messages removed by moderators)
--
-- ARGV[1]  since offset, exclusive ("" = from the start, or from the end when reverse)
-- ARGV[2]  limit (max entries to return; "0" = position only)
-- ARGV[3]  "1" = newest first
-- ARGV[4]  epoch to start the stream with if it has none
-- ARGV[5]  meta ttl, seconds
--
-- Returns {top offset, epoch, entries, deleted}: entries are {id, {"d", payload}} pairs as
-- XRANGE returns them; deleted counts removed offsets in (since, top] (forward reads only),
-- so a caller can tell a gap made by a deletion from a gap made by trimming.

local meta = redis.call("hmget", KEYS[2], "s", "e")
local top = tonumber(meta[1]) or 0
local epoch = meta[2]
if not epoch then
  epoch = ARGV[4]
  redis.call("hset", KEYS[2], "e", epoch)
  redis.call("expire", KEYS[2], ARGV[5])
end
local limit = tonumber(ARGV[2])
local entries = {}
local deleted = 0
if limit ~= 0 then
  local since = ARGV[1]
  if ARGV[3] == "1" then
    local hi = "+"
    if since ~= "" then hi = "(" .. since .. "-0" end
    entries = redis.call("xrevrange", KEYS[1], hi, "-", "COUNT", limit)
  else
    local lo = "-"
    if since ~= "" then lo = "(" .. since .. "-0" end
    entries = redis.call("xrange", KEYS[1], lo, "+", "COUNT", limit)
    if since ~= "" then
      deleted = redis.call("zcount", KEYS[3], tonumber(since) + 1, top)
    end
  end
end
return {top, epoch, entries, deleted}
