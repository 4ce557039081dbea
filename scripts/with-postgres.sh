#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL that answers.
#
# 1. TEST_DATABASE_URL as given, when it answers;
# 2. else the machine's server on 127.0.0.1:5432 (trust auth, database test);
# 3. else, where PostgreSQL is installed but no server answers, a throwaway
#    server: initdb into a temporary directory, listening on a Unix socket
#    only, removed on exit.
# Without any of these the command runs anyway: PostgreSQL tests then skip,
# or fail under CI=true.
set -euo pipefail

answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

if [ -n "${TEST_DATABASE_URL:-}" ] && answers "$TEST_DATABASE_URL"; then
  exec "$@"
fi

for user in "$(id -un)" root postgres; do
  url="postgres://${user}@127.0.0.1:5432/test?sslmode=disable"
  if answers "$url"; then
    export TEST_DATABASE_URL="$url"
    exec "$@"
  fi
done

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
else
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
if [ -z "$bindir" ]; then
  echo "with-postgres: no PostgreSQL answers and none is installed; PostgreSQL tests will skip (or fail under CI=true)" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/refundrecon-pg.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: run the throwaway server as postgres.
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
cleanup() {
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
echo "with-postgres: no server answers; starting a throwaway one in $dir" >&2
"${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-c listen_addresses='' -k $dir -c fsync=off -c max_connections=200" start >/dev/null
"${as[@]}" "$bindir/createdb" -h "$dir" -U postgres test
export TEST_DATABASE_URL="postgres://postgres@/test?host=${dir}&sslmode=disable"
"$@"
