-- Admit one batch atomically (see queue.Queue.Admit). Called with EVALSHA.
-- KEYS[1]  the stream
-- ARGV[1]  key prefix
-- ARGV[2]  per-tenant cap on live dedup keys
-- ARGV[3]  cap accounting granularity, ms
-- ARGV[4]  msgpack flat array, 7 values per entry:
--          tenant, dedup key, window ms (decimal string: Redis formats a
--          Lua number argument with printf), conversion 0|1, revocation key
--          ('' = no check), decided-at ms, visitor ('' = none; stored as
--          field u for EraseVisitor). Flat and complete so the loop below
--          builds no table and no string per entry.
-- ARGV[5…] the records, one per entry in order (the stream entry's value,
--          encoded by the caller: tenant, event id, name, payload; see
--          record.go). Separate arguments, not inside ARGV[4]: Redis's Lua
--          hashes every byte of every string it creates, so a record inside
--          the msgpack blob would be hashed twice.
-- Returns a string with one digit per entry: 1 queued, 2 duplicate,
-- 3 revoked, 4 over cap.
--
-- Each entry is decided in order: its dedup mark is set with SET NX (the
-- mark and the existence check in one command) and its stream entry
-- appended; then the cap accounting is updated. Every command that can fail
-- (a key of the wrong type, exhausted stream ids) runs under pcall: the
-- first failure undoes every mark and entry written so far and returns an
-- error, so no dedup mark outlives a failed enqueue. (Redis refuses a write
-- for OOM only before a script's first write, never midway.)
local stream = KEYS[1]
local prefix = ARGV[1]
local cap = tonumber(ARGV[2])
local gran = tonumber(ARGV[3])
local batch = cmsgpack.unpack(ARGV[4])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local mkey, nm = {}, 0 -- dedup marks set (undone on failure)
local ids = {}         -- stream entries added (undone on failure)
local function undo()
  for j = 1, nm do redis.pcall('DEL', mkey[j]) end
  for _, id in ipairs(ids) do redis.pcall('XDEL', stream, id) end
end
local function fail(op, r)
  undo()
  return redis.error_reply('PGW' .. op .. ' ' .. r.err)
end

-- Per-tenant cap accounting: HASH ck with, per bucket end (ms), the keys
-- expiring in that bucket, plus fields n (live total), nx (earliest bucket
-- end, -1 = no bucket, absent = unknown) and ex (the expiry set on both
-- keys); ZSET zk of the bucket ends. One HMGET per tenant and call in the
-- steady state: the due buckets are swept only once nx has passed.
local tenants = {}
local function tenant(id)
  local s = tenants[id]
  if s then return s end
  local ck = prefix .. ':c:' .. id
  local zk = prefix .. ':z:' .. id
  local h = redis.pcall('HMGET', ck, 'n', 'nx', 'ex')
  if h.err then return nil, h end
  local live, nx, ex = tonumber(h[1]) or 0, tonumber(h[2]), tonumber(h[3])
  if not ex then
    -- Keys written before ex existed: their expiry, so it never shortens.
    local pt = tonumber(redis.call('PTTL', ck))
    ex = pt > 0 and now + pt or 0
  end
  local due = {}
  if nx == nil or (nx >= 0 and nx <= now) then
    due = redis.pcall('ZRANGEBYSCORE', zk, '-inf', now)
    if due.err then return nil, due end
    local gone = 0
    for i = 1, #due, 500 do
      local counts = redis.pcall('HMGET', ck, unpack(due, i, math.min(i + 499, #due)))
      if counts.err then return nil, counts end
      for _, c in ipairs(counts) do gone = gone + (tonumber(c) or 0) end
    end
    live = live - gone
    if live < 0 then live = 0 end
    nx = nil -- recomputed after the sweep
  end
  s = {ck = ck, zk = zk, due = due, live = live, added = 0, add = {}, maxb = 0, nx = nx, ex = ex}
  tenants[id] = s
  return s
end

-- The revocation keys' decision times (false: none), read before any write
-- with one MGET per 500 distinct keys (a GET each costs ten times more).
local rev, rks = {}, {}
for i = 5, #batch, 7 do
  local rk = batch[i]
  if rk ~= '' and rev[rk] == nil then
    rev[rk] = false
    rks[#rks + 1] = rk
  end
end
for j = 1, #rks, 500 do
  local vals = redis.call('MGET', unpack(rks, j, math.min(j + 499, #rks)))
  for k = 1, #vals do
    rev[rks[j + k - 1]] = tonumber(vals[k]) or false
  end
end

local res = {}
local bucket = {} -- window -> end of the cap bucket its keys expire in
local function xadd(kind, rec, vis)
  local id
  if vis ~= '' then
    id = redis.pcall('XADD', stream, '*', 'k', kind, 'v', rec, 'u', vis)
  else
    id = redis.pcall('XADD', stream, '*', 'k', kind, 'v', rec)
  end
  -- An id is a string, an error a table. Indexing a string reads the
  -- string library (no err): far cheaper than type(), which makes a string.
  if id.err then return id end
  ids[#ids + 1] = id
end

-- Decide each entry, mark what is new, append the stream entries.
local n = 0
for i = 1, #batch, 7 do
  n = n + 1
  local tid, dk, win, conv, rk, dec = batch[i], batch[i + 1], batch[i + 2], batch[i + 3], batch[i + 4], batch[i + 5]
  local r
  local rv = rev[rk]
  if rv and rv > dec then r = '3' end
  if not r then
    local s, err = tenant(tid)
    if not s then return fail('TYPE', err) end
    if s.live + s.added >= cap then
      -- Over the cap: a repeat is still a duplicate, a new id is refused.
      r = redis.call('EXISTS', dk) == 1 and '2' or '4'
    else
      -- NX GET: false when the mark was set, its old value when it
      -- existed; no status table to build.
      local old = redis.pcall('SET', dk, '1', 'PX', win, 'NX', 'GET')
      -- Our marks hold '1' (Lua interns strings, so that test is a pointer
      -- comparison); only another value may be an error table.
      if old and old ~= '1' and type(old) == 'table' then return fail('SET', old) end
      if old then
        r = '2'
      else
        r = '1'
        nm = nm + 1; mkey[nm] = dk
        s.added = s.added + 1
        local b = bucket[win]
        if not b then
          b = math.ceil((now + tonumber(win)) / gran) * gran
          bucket[win] = b
        end
        s.add[b] = (s.add[b] or 0) + 1
        if b > s.maxb then s.maxb = b end
        local e = xadd('1', ARGV[4 + n], batch[i + 6])
        if e then return fail('XADD', e) end
      end
    end
    if r == '2' and conv == 1 then
      local e = xadd('2', ARGV[4 + n], batch[i + 6])
      if e then return fail('XADD', e) end
    end
  end
  res[n] = r
end

-- Then the cap accounting (types checked by the HMGET above; advisory, so pcall).
for _, s in pairs(tenants) do
  local swept = #s.due > 0 or s.nx == nil
  for i = 1, #s.due, 500 do
    local part = {unpack(s.due, i, math.min(i + 499, #s.due))}
    redis.pcall('HDEL', s.ck, unpack(part))
    redis.pcall('ZREM', s.zk, unpack(part))
  end
  local nx = s.nx
  for b, c in pairs(s.add) do
    local f = string.format('%.0f', b)
    if redis.pcall('HINCRBY', s.ck, f, c) == c then -- a new bucket
      redis.pcall('ZADD', s.zk, b, f)
    end
    if not swept and (nx < 0 or b < nx) then nx = b end
  end
  if swept then
    local first = redis.pcall('ZRANGE', s.zk, 0, 0, 'WITHSCORES')
    nx = (type(first) == 'table' and first[2] and tonumber(first[2])) or -1
  end
  local live = s.live + s.added
  if live == 0 and nx < 0 then
    redis.pcall('DEL', s.ck, s.zk)
  elseif s.maxb > 0 and s.ex < s.maxb + gran then
    -- Both keys live until their last bucket ends, never shorter.
    local until_ = s.maxb + gran
    redis.pcall('HSET', s.ck, 'n', live, 'nx', string.format('%.0f', nx), 'ex', string.format('%.0f', until_))
    redis.pcall('PEXPIREAT', s.ck, until_)
    redis.pcall('PEXPIREAT', s.zk, until_)
  else
    redis.pcall('HSET', s.ck, 'n', live, 'nx', string.format('%.0f', nx))
  end
end

return table.concat(res)
