-- Record a visitor's server-side consent decision time unless a newer one
-- is stored. KEYS[1] the visitor's revocation key; ARGV[1] decision time
-- (ms); ARGV[2] ttl (ms).
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
