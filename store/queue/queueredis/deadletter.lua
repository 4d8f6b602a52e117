-- Store one dead letter in a tenant's bounded set.
-- KEYS[1]  the tenant's dead-letter stream
-- KEYS[2]  the queue-wide dead-letter sequence (ids unique across tenants)
-- KEYS[3]  the tenant's dropped-letters counter
-- ARGV[1]  cap (letters kept per tenant)
-- ARGV[2]  group, ARGV[3] kind, ARGV[4] record (record.go), ARGV[5] reason,
--          ARGV[6] visitor ('' : none; stored as field u)
-- The letter's stream id is 0-<seq>; its time is field t (ms). The oldest
-- letters beyond the cap are trimmed exactly and counted. Returns seq.
local cap = tonumber(ARGV[1])
local n = redis.call('XLEN', KEYS[1]) -- fails on a wrong type before any write
local seq = redis.call('INCR', KEYS[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[1], 'MAXLEN', cap, string.format('0-%d', seq),
    'g', ARGV[2], 'k', ARGV[3], 'v', ARGV[4], 'r', ARGV[5], 't', string.format('%d', now), 'u', ARGV[6])
else
  redis.call('XADD', KEYS[1], 'MAXLEN', cap, string.format('0-%d', seq),
    'g', ARGV[2], 'k', ARGV[3], 'v', ARGV[4], 'r', ARGV[5], 't', string.format('%d', now))
end
if n + 1 > cap then
  redis.call('INCRBY', KEYS[3], n + 1 - cap)
end
return seq
