-- presence_read.lua: read a room's presence after sweeping dead nodes (so a reader never
-- sees a dead process's members, and their leaves go out exactly once, from here if
-- nobody swept them yet). Prepended with presence_lib.lua (KEYS and ARGV header there).
--
-- ARGV[BODY]    what to read:
--                 "counts"   the counters
--                 "pending"  the counters, and clear the count-pending mark (the caller
--                            publishes the count event now)
--                 "list"     the counters and every entry, or only their number when
--                            there are more than ARGV[BODY+1]
--                 "members"  the counters, the staff and hosts online, and up to
--                            ARGV[BODY+1] members (HSCAN order)
-- ARGV[BODY+1]  the limit for "list" and "members"
--
-- Returns {due, published, counters, extra...}: "list" adds either the flat entries list
-- or the number of entries; "members" adds the flat staff list and the flat members list.

sweep()
tidy()
local mode = ARGV[BODY]
local limit = tonumber(ARGV[BODY + 1] or "0")
local result = {due, published, counters()}
if mode == "pending" then
  redis.call("del", KEYS[7])
elseif mode == "list" then
  local n = redis.call("hlen", KEYS[1])
  if n > limit then
    table.insert(result, n)
  else
    table.insert(result, redis.call("hgetall", KEYS[1]))
  end
elseif mode == "members" then
  table.insert(result, redis.call("hgetall", KEYS[8]))
  local page_size = math.max(limit, 10)
  local out = {}
  local got = 0
  local cursor = "0"
  repeat
    local page = redis.call("hscan", KEYS[3], cursor, "COUNT", page_size)
    cursor = page[1]
    local items = page[2]
    for j = 1, #items, 2 do
      if got < limit then
        table.insert(out, items[j])
        table.insert(out, items[j + 1])
        got = got + 1
      end
    end
  until cursor == "0" or got >= limit
  table.insert(result, out)
elseif mode ~= "counts" then
  return redis.error_reply("ERR unknown presence read " .. tostring(mode))
end
return result
