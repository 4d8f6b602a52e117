-- Trim the stream below what every consumer group has acknowledged.
-- KEYS[1] the stream. Returns the number of entries removed.
-- A group's safe point is its oldest pending entry, or, with nothing
-- pending, its last delivered id (kept itself: harmless). Entries below the
-- minimum over all groups are gone from every group's view. No group: no
-- trim (nothing may be dropped before a consumer exists).
local stream = KEYS[1]
if redis.call('EXISTS', stream) == 0 then return 0 end
local st = redis.call('TYPE', stream)['ok']
if st ~= 'stream' then return 0 end
local groups = redis.call('XINFO', 'GROUPS', stream)
if #groups == 0 then return 0 end

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local minid, minms, minseq
for _, g in ipairs(groups) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local safe = last
  local p = redis.call('XPENDING', stream, name)
  if tonumber(p[1]) > 0 then safe = p[2] end
  local ms, seq = parse(safe)
  if minid == nil or ms < minms or (ms == minms and seq < minseq) then
    minid, minms, minseq = safe, ms, seq
  end
end
if minms == 0 and minseq == 0 then return 0 end
return redis.call('XTRIM', stream, 'MINID', minid)
