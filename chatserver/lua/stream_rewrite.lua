-- stream_rewrite.lua: rewrite one stream (e.g. a community's audit log) with some entries
-- replaced or left out (stream_lib.lua's rewrite), keeping ids, order and expiry.
--
-- KEYS[1]  the stream
-- ARGV     pairs: entry id, new payload of its "d" field ("" = leave the entry out)
--
-- Returns the number of entries changed or left out that were in the stream.

local changes = {}
local count = 0
for i = 1, #ARGV, 2 do
  if #redis.call("xrange", KEYS[1], ARGV[i], ARGV[i]) > 0 then
    count = count + 1
    if ARGV[i + 1] == "" then changes[ARGV[i]] = false else changes[ARGV[i]] = ARGV[i + 1] end
  end
end
if count > 0 then
  rewrite(KEYS[1], changes)
end
return count
