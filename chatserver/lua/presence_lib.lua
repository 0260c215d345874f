-- presence_lib.lua: rules shared by the presence scripts. The loader prepends this file to
-- each script body (presence_apply.lua, presence_read.lua); it is never run alone.
--
-- KEYS (the same for every presence script; all in the room's hash slot {<channel>}):
-- KEYS[1]  chat:{c}:pr  hash    client id -> msgpack client info (user, client, conn_info, chan_info, inv)
-- KEYS[2]  chat:{c}:pk  hash    user -> number of that user's connections in the room
-- KEYS[3]  chat:{c}:pm  hash    user -> member: one flags digit (1 staff, 2 host, 4 invisible) .. msgpack {n: name, r: role}
-- KEYS[4]  chat:{c}:pc  hash    counters of flagged users: inv staff staff_inv hosts hosts_inv
--                               (inv*: the invisible ones among them; visible = total - inv);
--                               clients and users are not counted: they are HLEN of KEYS[1]
--                               and KEYS[2] (two commands less per join and per leave)
-- KEYS[5]  chat:{c}:pn  zset    "<node>\0<client id>\0<user>", all scored 0: which node holds which entry
-- KEYS[6]  chat:{c}:pl  zset    node -> deadline (unix ms): the node's liveness in this room
-- KEYS[7]  chat:{c}:pq  string  a count event is pending (SET NX PX: at most one per window)
-- KEYS[8]  chat:{c}:ps  hash    staff and hosts online: user -> member (as KEYS[3])
--
-- ARGV (a header shared by every presence script):
-- ARGV[1]  this node's presence id
-- ARGV[2]  now, unix ms
-- ARGV[3]  this node's new deadline, unix ms
-- ARGV[4]  key expiry, seconds
-- ARGV[5]  threshold: with more users online than this, no per-member pushes
-- ARGV[6]  "1" when the room pushes join/leave, else "0"
-- ARGV[7]  lifetime of the count-pending mark, ms
-- ARGV[8]  the room's pub/sub channel
-- ARGV[9]  join payload prefix (a msgpack map {k: "join", d: null-json, i: ...} up to the info value)
-- ARGV[10] leave payload prefix (the same for "leave")
-- ARGV[11] N: how many nodes are known dead elsewhere (swept now, whatever their deadline here)
-- ARGV[12 .. 11+N]  those nodes
-- ARGV[12+N ..]     the script body's own arguments (BODY is the first index)
--
-- A user is online while they have at least one entry. Join/leave messages are published
-- (as "0::" .. payload, no offset, no history) only for the first/last connection of a
-- user and only while the room has at most THRESHOLD users online after the change.

local NODE = ARGV[1]
local NOW = tonumber(ARGV[2])
local DEADLINE = tonumber(ARGV[3])
local KEYS_TTL = tonumber(ARGV[4])
local THRESHOLD = tonumber(ARGV[5])
local JOIN_LEAVE = ARGV[6] == "1"
local HOLD_MS = tonumber(ARGV[7])
local PUBSUB = ARGV[8]
local JOIN_PREFIX = ARGV[9]
local LEAVE_PREFIX = ARGV[10]
local NFORCED = tonumber(ARGV[11])
local BODY = 12 + NFORCED
local SEP = "\0"

local published = 0
local due = 0
local swept_self = false
local node_live = redis.call("zscore", KEYS[6], NODE) ~= false  -- this node has a deadline here
local left = false  -- a connection left in this call (the room may have emptied)
local users_now = nil  -- users online after the last change, once looked up in this call

local function has_flag(flags, bit)
  return math.floor(flags / bit) % 2 == 1
end

-- Count a flagged user (invisible, staff, host) in or out.
local function count_user(flags, delta)
  local invisible = has_flag(flags, 4)
  if invisible then redis.call("hincrby", KEYS[4], "inv", delta) end
  if has_flag(flags, 1) then
    redis.call("hincrby", KEYS[4], "staff", delta)
    if invisible then redis.call("hincrby", KEYS[4], "staff_inv", delta) end
  end
  if has_flag(flags, 2) then
    redis.call("hincrby", KEYS[4], "hosts", delta)
    if invisible then redis.call("hincrby", KEYS[4], "hosts_inv", delta) end
  end
end

-- A user came (delta 1) or went (-1), KEYS[2] already changed: announce them (small room)
-- or mark a count event due (big room). The users online are looked up once per call.
local function transition(prefix, entry, delta)
  if not JOIN_LEAVE then return end
  if users_now == nil then
    users_now = redis.call("hlen", KEYS[2])
  else
    users_now = users_now + delta
  end
  local after = users_now
  local before = after - delta
  if after <= THRESHOLD then
    redis.call("publish", PUBSUB, "0::" .. prefix .. entry)
    published = published + 1
  end
  if before > THRESHOLD or after > THRESHOLD then
    if redis.call("set", KEYS[7], "1", "NX", "PX", HOLD_MS) then due = 1 end
  end
end

local function join(node, client, user, member, entry)
  if redis.call("hsetnx", KEYS[1], client, entry) == 0 then return end
  redis.call("zadd", KEYS[5], 0, node .. SEP .. client .. SEP .. user)
  if not node_live then
    redis.call("zadd", KEYS[6], "NX", DEADLINE, node)
    node_live = true
  end
  if redis.call("hincrby", KEYS[2], user, 1) > 1 then return end
  local flags = tonumber(string.sub(member, 1, 1)) or 0
  redis.call("hset", KEYS[3], user, member)
  if flags ~= 0 then
    if has_flag(flags, 1) or has_flag(flags, 2) then redis.call("hset", KEYS[8], user, member) end
    count_user(flags, 1)
  end
  transition(JOIN_PREFIX, entry, 1)
end

local function leave(node, client, user)
  local entry = redis.call("hget", KEYS[1], client)
  if not entry then return end
  redis.call("hdel", KEYS[1], client)
  redis.call("zrem", KEYS[5], node .. SEP .. client .. SEP .. user)
  left = true
  if redis.call("hincrby", KEYS[2], user, -1) > 0 then return end
  redis.call("hdel", KEYS[2], user)
  local member = redis.call("hget", KEYS[3], user) or "0"
  redis.call("hdel", KEYS[3], user)
  local flags = tonumber(string.sub(member, 1, 1)) or 0
  if flags ~= 0 then
    if has_flag(flags, 1) or has_flag(flags, 2) then redis.call("hdel", KEYS[8], user) end
    count_user(flags, -1)
  end
  transition(LEAVE_PREFIX, entry, -1)
end

local function node_range(node)
  return "[" .. node .. SEP, "(" .. node .. "\1"
end

local function node_has_entries(node)
  local lo, hi = node_range(node)
  return #redis.call("zrangebylex", KEYS[5], lo, hi, "LIMIT", 0, 1) > 0
end

-- Every entry of a dead node leaves, as if each of its connections had closed.
local function sweep_node(node)
  local lo, hi = node_range(node)
  for _, item in ipairs(redis.call("zrangebylex", KEYS[5], lo, hi)) do
    local rest = string.sub(item, #node + 2)
    local cut = string.find(rest, SEP, 1, true)
    if cut then
      leave(node, string.sub(rest, 1, cut - 1), string.sub(rest, cut + 1))
    end
    redis.call("zrem", KEYS[5], item)
  end
  redis.call("zrem", KEYS[6], node)
  if node == NODE then
    swept_self = true
    node_live = false
  end
end

local function sweep()
  for _, node in ipairs(redis.call("zrangebyscore", KEYS[6], "-inf", "(" .. NOW, "LIMIT", 0, 100)) do
    sweep_node(node)
  end
  for i = 1, NFORCED do
    sweep_node(ARGV[11 + i])
  end
end

local function expire_keys()
  for i = 1, 8 do
    if i ~= 7 then redis.call("expire", KEYS[i], KEYS_TTL) end
  end
end

-- The room emptied: drop the counters hash (every other hash empties itself).
local function tidy()
  if left and redis.call("exists", KEYS[1]) == 0 then
    redis.call("del", KEYS[4])
  end
end

-- Every counter as a flat field/value list (the stored ones, then clients and users).
local function counters()
  local flat = redis.call("hgetall", KEYS[4])
  flat[#flat + 1] = "clients"
  flat[#flat + 1] = redis.call("hlen", KEYS[1])
  flat[#flat + 1] = "users"
  flat[#flat + 1] = redis.call("hlen", KEYS[2])
  return flat
end

-- (end of presence_lib.lua)
