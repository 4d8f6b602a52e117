#!/usr/bin/env bash
# Makes sure the services the tests need are up on 127.0.0.1:
#   PostgreSQL :5432 (database `test`, trust auth for local TCP) and Redis :6379;
# and that the browser test's Chromium, Node.js and npm packages are there.
# A service that is installed but stopped is started the way this project's
# machines start it. A service that is missing is installed with apt when we
# are root; otherwise the script stops with the exact command to run.
# It never skips silently: exit 1 means the tests cannot run.
set -euo pipefail

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "$1 is not installed; run: sudo apt-get install -y $2"
  fi
  say "installing $2 with apt-get"
  if [ -z "${PIXELGW_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export PIXELGW_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

ensure_postgres() {
  if ! port_open 5432; then
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
      apt_install PostgreSQL postgresql
    fi
    local v
    v=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $v"
    if [ "$(id -u)" = 0 ]; then
      pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    else
      die "PostgreSQL is stopped; run: sudo pg_ctlcluster --skip-systemctl-redirect $v main start"
    fi
    wait_port 5432 30 || die "PostgreSQL did not open 127.0.0.1:5432"
  fi
  # Database `test` with trust auth for the tests (a fresh apt install has
  # neither: create the database and trust local TCP, as our machines do).
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "cannot connect as postgres@127.0.0.1/test; create the database and allow trust auth for 127.0.0.1"
    local v hba
    v=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba=/etc/postgresql/$v/main/pg_hba.conf
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      say "allowing trust auth for 127.0.0.1 in $hba (test machine)"
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$v" main reload
    fi
    su postgres -c "psql -Atc \"select 1 from pg_database where datname='test'\"" | grep -q 1 ||
      su postgres -c "createdb test"
    psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null ||
      die "still cannot connect to postgres://postgres@127.0.0.1:5432/test"
  fi
  say "PostgreSQL ok on 127.0.0.1:5432"
}

ensure_redis() {
  if ! port_open 6379; then
    command -v redis-server >/dev/null || apt_install Redis redis-server
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    local dir=/var/lib/redis log=/var/log/redis/ci.log
    [ -w "$dir" ] || { dir=$(mktemp -d); log=$dir/redis.log; }
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir "$dir" --logfile "$log"
    wait_port 6379 15 || die "Redis did not open 127.0.0.1:6379"
  fi
  say "Redis ok on 127.0.0.1:6379"
}

# --- browser test (test/browser_test.go): Debian Chromium, Node.js and the
# npm packages of test/browser (playwright-core, the Ghostery ad blocker).
# Missing pieces are installed when we are root; otherwise the script names
# the command to run, and fails only under CI (where the test would fail;
# elsewhere the test skips with the same advice).
browser_missing() { # what command
  if [ -n "${CI:-}" ]; then die "$1 is missing for the browser test; run: $2"; fi
  say "WARNING: $1 is missing, the browser test will skip; run: $2"
}

ensure_browser() {
  local repo dir
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir=$repo/test/browser
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt_install Chromium chromium
    else
      browser_missing Chromium "sudo apt-get install -y chromium"
    fi
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      command -v node >/dev/null || apt_install Node.js nodejs
      command -v npm >/dev/null || apt_install npm npm
    else
      browser_missing "Node.js/npm" "sudo apt-get install -y nodejs npm"
      return 0
    fi
  fi
  # npm ci when node_modules is missing or older than the lock file.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing the browser test's npm packages (npm ci in test/browser)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null) ||
      die "npm ci failed in $dir"
  fi
  say "browser test ok: $(/usr/bin/chromium --version 2>/dev/null | head -n 1 || echo chromium), node $(node --version)"
}

command -v go >/dev/null || die "Go is not installed (need Go 1.26+): see https://go.dev/doc/install"
ensure_postgres
ensure_redis
ensure_browser
