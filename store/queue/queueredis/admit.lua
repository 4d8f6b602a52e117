-- Admit one batch atomically (see queue.Queue.Admit). Called with EVALSHA.
-- KEYS[1]  the stream
-- ARGV[1]  key prefix
-- ARGV[2]  per-tenant cap on live dedup keys
-- ARGV[3]  cap accounting granularity, ms
-- ARGV[4]  msgpack array of entries, each
--          {tenant, dedup hash (16 raw bytes), window ms, conversion 0|1,
--           visitor, decided-at ms (0 = no check), record}
--          where record is the stream entry's value, encoded by the caller
--          (tenant, event id, name, payload; see record.go)
-- Returns a string with one digit per entry: 1 queued, 2 duplicate,
-- 3 revoked, 4 over cap.
--
-- Phase 1 only reads, so an error there (a key of the wrong type) aborts
-- with nothing written. Phase 2 writes the stream entries first, then the
-- dedup marks; a failing write undoes the writes before it and returns an
-- error, so no dedup mark outlives a failed enqueue. (Redis refuses a
-- write for OOM only before a script's first write, never midway.)
local stream = KEYS[1]
local prefix = ARGV[1]
local cap = tonumber(ARGV[2])
local gran = tonumber(ARGV[3])
local batch = cmsgpack.unpack(ARGV[4])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function typeof(key)
  return redis.call('TYPE', key)['ok']
end

local st = typeof(stream)
if st ~= 'none' and st ~= 'stream' then
  return redis.error_reply('PGWTYPE stream key holds a ' .. st)
end

-- Per-tenant cap accounting: HASH ck (bucket end ms -> keys expiring in
-- that bucket, plus field 'n' = live total) and ZSET zk (bucket ends).
local tenants = {}
local function tenant(id)
  local s = tenants[id]
  if s then return s end
  local ck = prefix .. ':c:' .. id
  local zk = prefix .. ':z:' .. id
  local ct, zt = typeof(ck), typeof(zk)
  if (ct ~= 'none' and ct ~= 'hash') or (zt ~= 'none' and zt ~= 'zset') then
    return nil, redis.error_reply('PGWTYPE cap keys of tenant hold a ' .. ct .. ' and a ' .. zt)
  end
  local due = redis.call('ZRANGEBYSCORE', zk, '-inf', now)
  local gone = 0
  for i = 1, #due, 500 do
    local counts = redis.call('HMGET', ck, unpack(due, i, math.min(i + 499, #due)))
    for _, c in ipairs(counts) do
      gone = gone + (tonumber(c) or 0)
    end
  end
  local live = (tonumber(redis.call('HGET', ck, 'n')) or 0) - gone
  if live < 0 then live = 0 end
  s = {ck = ck, zk = zk, due = due, live = live, added = 0, add = {}, maxb = 0}
  tenants[id] = s
  return s
end

local dpref = prefix .. ':d:'
local rpref = prefix .. ':r:'
local res = {}
local seen = {}
local adds = {}  -- stream entries to write: {kind, entry}
local marks = {} -- dedup marks to write: {key, window}
for i, e in ipairs(batch) do
  local tid, win, conv, vis, dec = e[1], e[3], e[4], e[5], e[6]
  local r
  if vis ~= '' and dec > 0 then
    local rv = tonumber(redis.call('GET', rpref .. tid .. ':' .. vis))
    if rv and rv > dec then r = 3 end
  end
  if not r then
    local dk = dpref .. e[2]
    if seen[dk] or redis.call('EXISTS', dk) == 1 then
      r = 2
      if conv == 1 then adds[#adds + 1] = {2, e} end
    else
      local s, err = tenant(tid)
      if not s then return err end
      if s.live + s.added >= cap then
        r = 4
      else
        r = 1
        seen[dk] = true
        s.added = s.added + 1
        local b = math.ceil((now + win) / gran) * gran
        s.add[b] = (s.add[b] or 0) + 1
        if b > s.maxb then s.maxb = b end
        marks[#marks + 1] = {dk, win}
        adds[#adds + 1] = {1, e}
      end
    end
  end
  res[i] = r
end

-- Phase 2: writes.
local ids = {}
local function undo(upto)
  for j = 1, upto do redis.pcall('DEL', marks[j][1]) end
  for _, id in ipairs(ids) do redis.pcall('XDEL', stream, id) end
end
for _, a in ipairs(adds) do
  local id
  if a[2][5] ~= '' then
    id = redis.pcall('XADD', stream, '*', 'k', a[1], 'v', a[2][7], 'u', a[2][5])
  else
    id = redis.pcall('XADD', stream, '*', 'k', a[1], 'v', a[2][7])
  end
  if type(id) == 'table' and id.err then
    undo(0)
    return redis.error_reply('PGWXADD ' .. id.err)
  end
  ids[#ids + 1] = id
end
for j, m in ipairs(marks) do
  local ok = redis.pcall('SET', m[1], '1', 'PX', m[2], 'NX')
  if type(ok) == 'table' and ok.err then
    undo(j - 1)
    return redis.error_reply('PGWSET ' .. ok.err)
  end
end

-- Cap accounting (types checked in phase 1; advisory, so pcall).
for _, s in pairs(tenants) do
  for i = 1, #s.due, 500 do
    local part = {unpack(s.due, i, math.min(i + 499, #s.due))}
    redis.pcall('HDEL', s.ck, unpack(part))
    redis.pcall('ZREM', s.zk, unpack(part))
  end
  for b, c in pairs(s.add) do
    local f = string.format('%.0f', b)
    redis.pcall('HINCRBY', s.ck, f, c)
    redis.pcall('ZADD', s.zk, b, f)
  end
  redis.pcall('HSET', s.ck, 'n', s.live + s.added)
  if s.maxb > 0 then
    -- Both keys live until their last bucket ends, never shorter.
    local pt = tonumber(redis.call('PTTL', s.ck))
    local until_ = s.maxb + gran
    if pt < 0 or now + pt < until_ then
      redis.pcall('PEXPIREAT', s.ck, until_)
      redis.pcall('PEXPIREAT', s.zk, until_)
    end
  elseif #s.due > 0 and s.live == 0 and redis.call('ZCARD', s.zk) == 0 then
    redis.pcall('DEL', s.ck, s.zk)
  end
end

return table.concat(res)
