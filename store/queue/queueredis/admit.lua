-- Admit one batch atomically (see queue.Queue.Admit). Called with EVALSHA.
-- KEYS[1]  the stream
-- ARGV[1]  key prefix
-- ARGV[2]  per-tenant cap on live dedup keys
-- ARGV[3]  cap accounting granularity, ms
-- ARGV[4]  msgpack flat array, 8 values per entry:
--          tenant, dedup key, window ms (decimal string: Redis formats a
--          Lua number argument with printf), conversion 0|1, revocation key
--          ('' = no check), decided-at ms, record (the stream entry's value,
--          encoded by the caller: tenant, event id, name, payload; see
--          record.go), visitor ('' = none; stored as field u for
--          EraseVisitor). Flat and complete so the loop below builds no
--          table and no string per entry.
-- Returns a string with one digit per entry: 1 queued, 2 duplicate,
-- 3 revoked, 4 over cap.
--
-- Phase 1 decides each entry and sets its dedup mark with SET NX (the
-- mark and the existence check in one command); phase 2 appends the stream
-- entries. Any failure after the first mark undoes every mark and entry
-- written so far and returns an error, so no dedup mark outlives a failed
-- enqueue. Type checks of the stream come before any write. (Redis
-- refuses a write for OOM only before a script's first write, never
-- midway.)
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

local res = {}
local seen = {}
local akind, arec, avis = {}, {}, {} -- stream entries to write: kind, record, visitor
local mkey = {}            -- dedup marks set (undone on failure)
local na, nm = 0, 0
local ids = {}
local function undo()
  for j = 1, nm do redis.pcall('DEL', mkey[j]) end
  for _, id in ipairs(ids) do redis.pcall('XDEL', stream, id) end
end

-- Phase 1: decide, and mark what is new.
for i = 1, #batch, 8 do
  local tid, dk, win, conv, rk, dec = batch[i], batch[i + 1], batch[i + 2], batch[i + 3], batch[i + 4], batch[i + 5]
  local r
  if rk ~= '' then
    local rv = tonumber(redis.call('GET', rk))
    if rv and rv > dec then r = 3 end
  end
  if not r then
    if seen[dk] then
      r = 2
    else
      local s, err = tenant(tid)
      if not s then undo(); return err end
      if s.live + s.added >= cap then
        -- Over the cap: a repeat is still a duplicate, a new id is refused.
        r = redis.call('EXISTS', dk) == 1 and 2 or 4
      else
        local ok = redis.pcall('SET', dk, '1', 'PX', win, 'NX')
        if type(ok) == 'table' and ok.err then
          undo()
          return redis.error_reply('PGWSET ' .. ok.err)
        end
        if ok then
          r = 1
          seen[dk] = true
          nm = nm + 1; mkey[nm] = dk
          s.added = s.added + 1
          local b = math.ceil((now + tonumber(win)) / gran) * gran
          s.add[b] = (s.add[b] or 0) + 1
          if b > s.maxb then s.maxb = b end
          na = na + 1; akind[na] = '1'; arec[na] = batch[i + 6]; avis[na] = batch[i + 7]
        else
          r = 2
        end
      end
    end
    if r == 2 and conv == 1 then na = na + 1; akind[na] = '2'; arec[na] = batch[i + 6]; avis[na] = batch[i + 7] end
  end
  res[#res + 1] = r
end

-- Phase 2: the stream entries.
for j = 1, na do
  local id
  if avis[j] ~= '' then
    id = redis.pcall('XADD', stream, '*', 'k', akind[j], 'v', arec[j], 'u', avis[j])
  else
    id = redis.pcall('XADD', stream, '*', 'k', akind[j], 'v', arec[j])
  end
  if type(id) == 'table' and id.err then
    undo()
    return redis.error_reply('PGWXADD ' .. id.err)
  end
  ids[j] = id
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
