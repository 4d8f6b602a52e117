-- Replay dead letters: re-enqueue each for its own group only, then remove it.
-- KEYS[1]  the tenant's dead-letter stream
-- KEYS[2]  the queue stream
-- ARGV     dead-letter sequence numbers (decimal, distinct)
-- Letters not in this tenant's set are ignored. Returns how many were replayed.
-- Both keys' types are checked before any write, so the script fails whole
-- or not at all (Redis refuses a write for OOM only before the first).
for _, key in ipairs(KEYS) do
  local st = redis.call('TYPE', key)['ok']
  if st ~= 'none' and st ~= 'stream' then
    return redis.error_reply('PGWTYPE ' .. key .. ' holds a ' .. st)
  end
end
local n = 0
for _, seq in ipairs(ARGV) do
  local id = '0-' .. seq
  local e = redis.call('XRANGE', KEYS[1], id, id)
  if #e == 1 then
    local f = e[1][2]
    local g, k, v, u
    for i = 1, #f, 2 do
      if f[i] == 'g' then g = f[i + 1]
      elseif f[i] == 'k' then k = f[i + 1]
      elseif f[i] == 'v' then v = f[i + 1]
      elseif f[i] == 'u' then u = f[i + 1] end
    end
    if g and g ~= '' and k and v then
      if u and u ~= '' then
        redis.call('XADD', KEYS[2], '*', 'k', k, 'v', v, 'g', g, 'u', u)
      else
        redis.call('XADD', KEYS[2], '*', 'k', k, 'v', v, 'g', g)
      end
      n = n + 1
    end
    redis.call('XDEL', KEYS[1], id)
  end
end
return n
