# Shared by the load scripts (sourced, not run).

# delete_redis_prefix P deletes every key under "P:*" with SCAN + DEL inside
# Redis, 1,000 keys per call (dedup keys are raw bytes: they do not survive a
# shell pipe).
delete_redis_prefix() {
  local cursor=0
  while :; do
    cursor=$(redis-cli -h 127.0.0.1 -p 6379 eval "local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', 1000)
      for _, k in ipairs(r[2]) do redis.call('DEL', k) end
      return r[1]" 0 "$cursor" "$1:*")
    [[ "$cursor" =~ ^[1-9][0-9]*$ ]] || break
  done
}
