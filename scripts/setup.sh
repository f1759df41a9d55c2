#!/usr/bin/env bash
# Prepare everything the centre needs on a Debian machine, idempotently:
#   1. Debian packages (PostgreSQL, build tools, browsers and tools the tests use)
#   2. TimescaleDB built from Debian's source package (once; reused after)
#   3. a private PostgreSQL cluster under .ioc/ on its own port (unless IOC_DATABASE_URL is set)
#   4. the Python virtual environment .venv with the project installed
# It writes .ioc/env with IOC_DATABASE_URL for the other scripts to source.
# Run as root (apt-get); PostgreSQL itself runs as the `postgres` system user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.ioc"
PG_MAJOR=${IOC_PG_MAJOR:-15}
PG_PORT=${IOC_PG_PORT:-55432}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$STATE"

step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages); see README 'Other machines'."
command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian. See README 'Other machines'."

# ---------------------------------------------------------------- 1. Debian packages
DEB_PACKAGES=(
  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" postgresql-client-"$PG_MAJOR"
  cmake build-essential dpkg-dev xz-utils ca-certificates
  python3-venv
  # tests: Prometheus tools, Alertmanager, blackbox exporter, Chromium, PDF tools, fonts
  prometheus prometheus-alertmanager prometheus-blackbox-exporter
  chromium poppler-utils fonts-dejavu-core fonts-noto-core
  # WeasyPrint's native libraries
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
  # high availability (scripts/ha, tests/ha): Patroni, etcd, pgBackRest
  patroni etcd-server etcd-client pgbackrest
)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # policy-rc.d keeps the package from starting Debian's own cluster on 5432.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 \
    || { rm -f /usr/sbin/policy-rc.d; tail -20 "$STATE/apt.log"; die "apt-get install failed (log: $STATE/apt.log)"; }
  rm -f /usr/sbin/policy-rc.d
fi

# ---------------------------------------------------------------- 2. TimescaleDB
PG_CONFIG=$PG_BIN/pg_config
EXT_DIR=$("$PG_CONFIG" --sharedir)/extension
if ! ls "$EXT_DIR"/timescaledb.control >/dev/null 2>&1; then
  step "building TimescaleDB from Debian's source package (Apache-only, telemetry off)"
  BUILD="$STATE/build/timescaledb"
  rm -rf "$BUILD"; mkdir -p "$BUILD/lists/partial" "$BUILD/src"
  # A private deb-src list for trixie on the mirror this machine already uses; the system's
  # own sources and package lists are left untouched.
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "no Debian mirror URI found in /etc/apt/sources.list(.d)"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$BUILD/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$BUILD/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$BUILD/lists")
  apt-get "${APT_OPTS[@]}" update -qq >"$BUILD/fetch.log" 2>&1 || die "apt-get update (deb-src trixie) failed: $BUILD/fetch.log"
  (cd "$BUILD/src" && apt-get "${APT_OPTS[@]}" source --download-only timescaledb >>"$BUILD/fetch.log" 2>&1) \
    || die "apt-get source timescaledb failed: $BUILD/fetch.log"
  dsc=$(ls "$BUILD"/src/timescaledb_*.dsc | head -1)
  dpkg-source -x "$dsc" "$BUILD/src/ts" >>"$BUILD/fetch.log" 2>&1 || die "dpkg-source failed"
  (cd "$BUILD/src/ts" \
    && cmake -S . -B build -DAPACHE_ONLY=ON -DSEND_TELEMETRY_DEFAULT=OFF -DREGRESS_CHECKS=OFF \
       -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DUSE_OPENSSL=OFF -DPG_CONFIG="$PG_CONFIG" \
       -DCMAKE_BUILD_TYPE=Release \
    && make -C build -j"$(nproc)" && make -C build install) >"$BUILD/build.log" 2>&1 \
    || { tail -20 "$BUILD/build.log"; die "TimescaleDB build failed (log: $BUILD/build.log)"; }
fi

# ---------------------------------------------------------------- 3. PostgreSQL cluster
if [ -z "${IOC_DATABASE_URL:-}" ]; then
  PGDIR="$STATE/pg"
  # PostgreSQL refuses to run as root, so the cluster belongs to `postgres`, which must be able
  # to reach the directory; when the checkout lives somewhere it cannot (e.g. /root), keep the
  # cluster under /var/lib/ioc and link it.
  if [ ! -e "$PGDIR" ]; then
    mkdir -p "$PGDIR"
    chown postgres:postgres "$PGDIR"
    if ! runuser -u postgres -- test -w "$PGDIR"; then
      rmdir "$PGDIR"
      alt="/var/lib/ioc/$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
      mkdir -p "$alt"; chown postgres:postgres "$alt"; ln -s "$alt" "$PGDIR"
    fi
  fi
  DATA="$PGDIR/data"; RUN="$PGDIR/run"
  pass_file="$STATE/db.password"
  [ -s "$pass_file" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pass_file")
  PASS=$(cat "$pass_file")
  if [ ! -s "$DATA/PG_VERSION" ]; then
    step "creating the PostgreSQL cluster in $DATA"
    runuser -u postgres -- mkdir -p "$DATA" "$RUN"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >"$STATE/initdb.log" 2>&1 \
      || die "initdb failed: $STATE/initdb.log"
    cat >>"$DATA/postgresql.conf" <<EOF
# --- set by scripts/setup.sh (the port, chosen when the cluster starts, is in ioc_port.conf)
include_if_exists = 'ioc_port.conf'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 300
shared_buffers = 512MB
work_mem = 16MB
synchronous_commit = on
log_min_messages = warning
EOF
  fi
  if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    # Another checkout's cluster (or anything else) may hold the port: take the next free one.
    port=$PG_PORT
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      port=$((port + 1))
      [ "$port" -lt $((PG_PORT + 100)) ] || die "no free port in $PG_PORT..$((PG_PORT + 99))"
    done
    step "starting PostgreSQL on 127.0.0.1:$port"
    runuser -u postgres -- mkdir -p "$RUN"
    echo "port = $port" | runuser -u postgres -- tee "$DATA/ioc_port.conf" >/dev/null
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$PGDIR/server.log"; die "PostgreSQL did not start (log: $PGDIR/server.log)"; }
  fi
  # The running server's port is line 4 of postmaster.pid.
  PG_PORT=$(sed -n 4p "$DATA/postmaster.pid")
  psql_admin() { runuser -u postgres -- "$PG_BIN/psql" -h "$RUN" -p "$PG_PORT" -U postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }
  # The project's private cluster: the ioc role is superuser so tests can create databases
  # with the extension. A production database uses an owner role; see README.
  psql_admin -d postgres -v pass="$PASS" <<'EOF'
SELECT format('CREATE ROLE ioc LOGIN SUPERUSER PASSWORD %L', :'pass')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ioc') \gexec
SELECT format('ALTER ROLE ioc PASSWORD %L', :'pass') \gexec
SELECT 'CREATE DATABASE ioc OWNER ioc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ioc') \gexec
EOF
  (umask 077; {
    echo "IOC_DATABASE_URL=postgresql://ioc:$PASS@127.0.0.1:$PG_PORT/ioc"
    echo "IOC_PG_DATA=$DATA"
    echo "IOC_PG_BIN=$PG_BIN"
    echo "IOC_PG_PORT=$PG_PORT"
  } >"$STATE/env")
fi

# ---------------------------------------------------------------- 4. Python environment
VENV="$ROOT/.venv"
stamp="$VENV/.ioc-installed"
want=$(cat "$ROOT/pyproject.toml" | md5sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "installing the Python environment in .venv"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT[dev]" >"$STATE/pip.log" 2>&1 \
    || { tail -20 "$STATE/pip.log"; die "pip install failed (log: $STATE/pip.log)"; }
  echo "$want" >"$stamp"
fi
step "ready"
