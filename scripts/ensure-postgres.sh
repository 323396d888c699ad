#!/usr/bin/env bash
# Make sure the test PostgreSQL (127.0.0.1:5432, user postgres, database test) answers.
# Starts an installed-but-stopped cluster. Where none can be reached: fails when
# MUSTER_REQUIRE_POSTGRES=1 (CI), otherwise says loudly that PostgreSQL tests will be skipped.
set -u
host=127.0.0.1 port=5432
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null || \
  python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('$host',$port)))"; }

if ! ready && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    echo "ensure-postgres: starting PostgreSQL $version cluster 'main'"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 || true
  done
  for _ in $(seq 1 20); do ready && break; sleep 0.5; done
fi

if ready; then
  psql -h "$host" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" \
    2>/dev/null | grep -q 1 || psql -h "$host" -U postgres -d postgres -qc "CREATE DATABASE test" \
    2>/dev/null || true
  echo "ensure-postgres: PostgreSQL answers at $host:$port"
  exit 0
fi

if [ "${MUSTER_REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "ensure-postgres: PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but does not answer" >&2
  exit 1
fi
cat >&2 <<'MSG'
################################################################################
##  WARNING: no PostgreSQL at 127.0.0.1:5432. The PostgreSQL half of the suite  ##
##  will be SKIPPED. Install postgresql (or start it) to run it.                ##
################################################################################
MSG
exit 0
