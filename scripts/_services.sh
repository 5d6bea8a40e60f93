# Sourced by scripts/test: make sure a PostgreSQL (trust auth) and a Redis answer, and
# export where: ATDESK_TEST_POSTGRES (an admin URL) and ATDESK_TEST_REDIS.
# Uses the ones on their standard ports when they answer; otherwise installs the servers
# if they are missing (apt-get or brew) and runs private ones under ./var/test-services.

find_pg_bin() {  # $1: a PostgreSQL program (initdb, pg_ctl)
  command -v "$1" 2>/dev/null && return
  ls /usr/lib/postgresql/*/bin/"$1" /opt/homebrew/opt/postgresql@*/bin/"$1" \
    /usr/local/opt/postgresql@*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

install_packages() {  # $@: Debian package names; brew names are guessed from them
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing $* with apt-get ..." >&2
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  elif command -v brew >/dev/null 2>&1; then
    for package in "$@"; do
      case "$package" in
        postgresql) brew install postgresql@16 >&2 ;;
        redis-server) brew install redis >&2 ;;
        nodejs) brew install node >&2 ;;
        chromium) brew install --cask chromium >&2 ;;
      esac
    done
  else
    echo "please install $* (PostgreSQL and Redis) and retry" >&2
    exit 1
  fi
}

free_port() {
  .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    export ATDESK_TEST_REDIS="redis://127.0.0.1:6379/0"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || install_packages redis-server
  local dir="$PWD/var/test-services/redis" port
  mkdir -p "$dir"
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  export ATDESK_TEST_REDIS="redis://127.0.0.1:$port/0"
  echo "started a private Redis on port $port" >&2
}

ensure_postgres() {
  if .venv/bin/python -c 'import psycopg; psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()' 2>/dev/null; then
    export ATDESK_TEST_POSTGRES="postgresql://postgres@127.0.0.1:5432/postgres"
    return
  fi
  [ -n "$(find_pg_bin initdb)" ] || install_packages postgresql
  local initdb pg_ctl dir="$PWD/var/test-services/postgres" port
  initdb=$(find_pg_bin initdb)
  pg_ctl=$(find_pg_bin pg_ctl)
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    "$initdb" -D "$dir" -U postgres -A trust >/dev/null
  fi
  port=$(free_port)
  "$pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300" start >/dev/null
  export ATDESK_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "started a private PostgreSQL on port $port" >&2
}

ensure_node() {  # the JavaScript SDK's tests run on Node.js 20 or newer
  if ! command -v node >/dev/null 2>&1 ||
    ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    install_packages nodejs npm
  fi
}

ensure_chromium() {  # the web apps' tests drive a real Chromium (Debian's), never a download
  local mac_app="/Applications/Chromium.app/Contents/MacOS/Chromium"
  if [ -n "${ATDESK_CHROMIUM:-}" ] && [ -x "$ATDESK_CHROMIUM" ]; then
    return
  fi
  if [ -x "$mac_app" ]; then
    export ATDESK_CHROMIUM="$mac_app"
  elif ! command -v chromium >/dev/null 2>&1; then
    install_packages chromium
    if [ -x "$mac_app" ]; then export ATDESK_CHROMIUM="$mac_app"; fi
  fi
}
