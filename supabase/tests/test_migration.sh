#!/usr/bin/env bash
# Applies supabase/migrations/*.sql to a throwaway PostgreSQL 15 cluster (Debian's) with
# Supabase's roles, and proves the cameras table's row-level security:
#   anon/authenticated see only active cameras and cannot insert, update, upsert or delete;
#   service_role reads everything and writes, including the daemon's registration upsert
#   (last_seen_at, upload_ms, latency_ms; last_seen_at clamped to now()).
#
#   bash supabase/tests/test_migration.sh
#
# Needs Debian's postgresql (installed with apt-get when missing and running as root).
# Runs the server as the `postgres` user (via runuser) when started as root, else as the
# current user.  Unix socket only (listen_addresses=''), in a temp dir that is removed at
# the end, also on failure.  Ends with "N passed, M failed"; exits 1 on any failure.

set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
migrations="${MIGRATIONS_DIR:-$(cd "$here/../migrations" && pwd)}"

# initdb, pg_ctl and psql from Debian's postgresql (scripts/deps.sh installs it);
# scripts/need-tool names the package when one is missing.
if ! pgtools="$("$here/../../scripts/need-tool" initdb pg_ctl psql)"; then
  echo "FAIL setup: PostgreSQL server binaries not found"
  echo "0 passed, 1 failed"
  exit 1
fi
pgbin="$(dirname "$(readlink -f "$(head -n 1 <<<"$pgtools")")")"

tmp="$(mktemp -d /tmp/edgestream-pg.XXXXXX)"
chmod 755 "$tmp"
port=$((20000 + RANDOM % 20000))
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  chown postgres "$tmp"
  as_owner=(runuser -u postgres --)
fi
dbuser=pgadmin # the superuser of the throwaway cluster (Supabase's is supabase_admin/postgres)

cleanup() {
  if [ -f "$tmp/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2" | head -5; }

echo "# PostgreSQL: $("$pgbin/postgres" --version)"
if ! "${as_owner[@]}" "$pgbin/initdb" -D "$tmp/data" -U "$dbuser" -A trust -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1; then
  bad "initdb" "$(tail -5 "$tmp/initdb.log")"
  echo "$passed passed, $failed failed"
  exit 1
fi
if ! "${as_owner[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 \
  -o "-k $tmp -p $port -c listen_addresses='' -c fsync=off" start >/dev/null 2>&1; then
  bad "start server" "$(tail -5 "$tmp/server.log" 2>/dev/null)"
  echo "$passed passed, $failed failed"
  exit 1
fi

# psql as a login role; -At: bare values.  Statements after "set role X;" run as X.
psql_as() { # login-user sql...
  local user="$1"
  shift
  "$pgbin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U "$user" -d postgres -c "$*" 2>&1
}
admin() { psql_as "$dbuser" "$@"; }
# As one of Supabase's API roles, the way PostgREST does it: log in as authenticator, SET ROLE.
as_role() { # role sql...
  local role="$1"
  shift
  psql_as authenticator "set role $role; $*"
}

expect_value() { # name expected role sql
  local name="$1" want="$2" role="$3" sql="$4" got
  got="$(as_role "$role" "$sql")"
  if [ $? -eq 0 ] && [ "$got" = "$want" ]; then ok "$name"; else bad "$name" "expected '$want', got '$got'"; fi
}
expect_refused() { # name role sql
  local name="$1" role="$2" sql="$3" got
  got="$(as_role "$role" "$sql")"
  if [ $? -ne 0 ] && echo "$got" | grep -Eq 'permission denied|row-level security'; then
    ok "$name"
  else
    bad "$name" "expected a refusal, got: $got"
  fi
}

# Supabase's roles, as a Supabase project has them (supabase/postgres roles.sql):
# NOLOGIN API roles, service_role with BYPASSRLS, an authenticator that may SET ROLE to them,
# and default privileges that give the API roles everything in public (RLS does the rest).
roles_sql="
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
"
if out="$(admin "$roles_sql")"; then ok "Supabase roles created (anon, authenticated, service_role BYPASSRLS, authenticator)"; else bad "create roles" "$out"; fi

# Apply every migration in order.
applied=0
for f in "$migrations"/*.sql; do
  if out="$("$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -U "$dbuser" -d postgres -f "$f" 2>&1)" &&
    ! echo "$out" | grep -q 'WARNING'; then
    ok "migration applies cleanly: $(basename "$f")"
    applied=$((applied + 1))
  else
    bad "migration $(basename "$f")" "$out"
  fi
done
if [ "$applied" -eq 0 ]; then
  bad "no migration applied"
  echo "$passed passed, $failed failed"
  exit 1
fi

expect_value "RLS is enabled on public.cameras" "t" service_role \
  "select relrowsecurity from pg_class where oid = 'public.cameras'::regclass"

# Seed as service_role (the edge device's key), including the reference design's INSERT verbatim.
seed="
insert into cameras (camera_key, name, stream_url, location_id, status, is_active, profile) values
  ('cam_door',  'Front Door',   '/live/cam_door/stream.m3u8',  1, 'active', true,  'll'),
  ('cam_stock', 'Stock Room',   '/live/cam_stock/stream.m3u8', 1, 'active', false, 'low');
INSERT INTO cameras (name, stream_url, location_id, status, is_active)
VALUES (
  'Floor Camera',
  'https://xxx.supabase.co/storage/v1/object/public/streams/location_1/cam_floor/stream.m3u8',
  1,
  'active',
  true
);
select count(*) from cameras;"
expect_value "service_role inserts (incl. the reference design's INSERT unchanged)" "3" service_role "$seed"

# anon: the dashboard's key.
expect_value "anon sees only the active cameras" "Floor Camera,Front Door" anon \
  "select string_agg(name, ',' order by name) from public.cameras"
expect_value "anon cannot see an inactive camera even by asking for it" "0" anon \
  "select count(*) from public.cameras where is_active = false or camera_key = 'cam_stock'"
expect_value "anon reads the dashboard's columns" "cam_door|ll|/live/cam_door/stream.m3u8" anon \
  "select camera_key, profile, stream_url from public.cameras where camera_key = 'cam_door'"
expect_refused "anon INSERT is refused" anon \
  "insert into public.cameras (name, stream_url) values ('Evil', 'https://evil.example/x.m3u8')"
expect_refused "anon UPDATE is refused" anon \
  "update public.cameras set stream_url = 'https://evil.example/x.m3u8'"
expect_refused "anon DELETE is refused" anon "delete from public.cameras"
expect_refused "anon TRUNCATE is refused" anon "truncate public.cameras"

# authenticated: a logged-in dashboard user, same rights as anon.
expect_value "authenticated sees only the active cameras" "2" authenticated "select count(*) from public.cameras"
expect_refused "authenticated INSERT is refused" authenticated \
  "insert into public.cameras (name, stream_url) values ('Evil', '/x.m3u8')"
expect_refused "authenticated UPDATE is refused" authenticated "update public.cameras set is_active = true"
expect_refused "authenticated DELETE is refused" authenticated "delete from public.cameras"

expect_value "nothing changed after the refused writes" "3|2|0" service_role \
  "select count(*), count(*) filter (where is_active), count(*) filter (where stream_url like '%evil%') from public.cameras"

# service_role: full access (BYPASSRLS).
expect_value "service_role sees inactive cameras too" "3" service_role "select count(*) from public.cameras"
expect_value "service_role updates; updated_at follows" "offline|t" service_role \
  "update public.cameras set status = 'offline', updated_at = '2000-01-01' where camera_key = 'cam_door';
   select status, updated_at > now() - interval '1 minute' from public.cameras where camera_key = 'cam_door'"
expect_value "service_role deletes" "2" service_role \
  "delete from public.cameras where camera_key = 'cam_stock'; select count(*) from public.cameras"
expect_value "anon sees both remaining active cameras" "2" anon "select count(*) from public.cameras"
as_role service_role "update public.cameras set is_active = false where camera_key = 'cam_door'" >/dev/null
expect_value "a camera set inactive by service_role disappears for anon" "Floor Camera" anon \
  "select string_agg(name, ',') from public.cameras"

# Registration (issue 13, 20261203000000_camera_status.sql): the daemon's upsert is what
# PostgREST runs for POST /rest/v1/cameras?on_conflict=camera_key with
# Prefer: resolution=merge-duplicates: INSERT ... ON CONFLICT (camera_key) DO UPDATE SET
# <the payload's columns> = EXCLUDED.<same>.
upsert_sql() { # camera_key status last_seen_at-sql
  echo "insert into public.cameras (camera_key, name, stream_url, location_id, profile, status, last_seen_at, upload_ms, latency_ms)
    values ('$1', 'Cam $1', 'https://x.supabase.co/storage/v1/object/public/streams/location_1/$1/stream.m3u8', 1, 'low', '$2', $3, 12, 2100)
    on conflict (camera_key) do update set name = excluded.name, stream_url = excluded.stream_url,
      location_id = excluded.location_id, profile = excluded.profile, status = excluded.status,
      last_seen_at = excluded.last_seen_at, upload_ms = excluded.upload_ms, latency_ms = excluded.latency_ms"
}
expect_value "the new columns exist (last_seen_at timestamptz, upload_ms, latency_ms integer)" \
  "last_seen_at:timestamp with time zone,latency_ms:integer,upload_ms:integer" service_role \
  "select string_agg(column_name || ':' || data_type, ',' order by column_name) from information_schema.columns
   where table_schema = 'public' and table_name = 'cameras' and column_name in ('last_seen_at', 'upload_ms', 'latency_ms')"
expect_value "service_role upserts: the first report creates the row" "1|active|12|2100" service_role \
  "$(upsert_sql cam_reg active "now() - interval '5 seconds'");
   select count(*), min(status), min(upload_ms), min(latency_ms) from public.cameras where camera_key = 'cam_reg'"
expect_value "service_role upserts again: the same row, updated, last_seen_at advanced" "1|offline|t" service_role \
  "update public.cameras set is_active = true where camera_key = 'cam_reg';
   $(upsert_sql cam_reg offline "now()");
   select count(*), min(status), bool_and(last_seen_at > now() - interval '2 seconds') from public.cameras where camera_key = 'cam_reg'"
expect_value "an upsert leaves the columns it does not name alone (is_active set by hand)" "f" service_role \
  "update public.cameras set is_active = false where camera_key = 'cam_reg';
   insert into public.cameras (camera_key, name, stream_url, status) values ('cam_reg', 'Cam', '/x.m3u8', 'active')
   on conflict (camera_key) do update set status = excluded.status;
   select is_active from public.cameras where camera_key = 'cam_reg'"
expect_value "a last_seen_at from a clock that runs ahead is clamped to now()" "t" service_role \
  "update public.cameras set is_active = true, last_seen_at = now() + interval '1 hour' where camera_key = 'cam_reg';
   select last_seen_at <= now() from public.cameras where camera_key = 'cam_reg'"
expect_value "anon reads the registration columns of an active camera" "cam_reg|active|t" anon \
  "select camera_key, status, last_seen_at is not null from public.cameras where camera_key = 'cam_reg'"
expect_refused "anon cannot upsert (INSERT ... ON CONFLICT DO UPDATE)" anon "$(upsert_sql cam_evil active "now()")"
expect_refused "anon cannot upsert over an existing row" anon "$(upsert_sql cam_reg active "now()")"
expect_refused "anon cannot refresh last_seen_at (UPDATE)" anon \
  "update public.cameras set last_seen_at = now(), status = 'active' where camera_key = 'cam_reg'"
expect_refused "authenticated cannot upsert" authenticated "$(upsert_sql cam_evil active "now()")"
expect_value "nothing changed after the refused upserts" "0|1" service_role \
  "select count(*) filter (where camera_key = 'cam_evil'), count(*) filter (where camera_key = 'cam_reg') from public.cameras"

# Constraints keep the dashboard's assumptions true.
expect_refused_check() { # name sql
  local got
  got="$(as_role service_role "$2")"
  if [ $? -ne 0 ] && echo "$got" | grep -q 'violates check constraint'; then ok "$1"; else bad "$1" "$got"; fi
}
expect_refused_check "an unknown profile is rejected" \
  "insert into public.cameras (name, stream_url, profile) values ('X', '/x.m3u8', 'turbo')"
expect_refused_check "a stream_url that is not http(s) or a path is rejected" \
  "insert into public.cameras (name, stream_url) values ('X', 'javascript:alert(1)')"
expect_refused_check "an unknown status is rejected" \
  "insert into public.cameras (name, stream_url, status) values ('X', '/x.m3u8', 'exploded')"
expect_refused_check "a negative latency figure is rejected" \
  "insert into public.cameras (name, stream_url, latency_ms) values ('X', '/x.m3u8', -1)"
expect_refused_check "a negative upload time is rejected" \
  "insert into public.cameras (name, stream_url, upload_ms) values ('X', '/x.m3u8', -5)"

# The login role itself (no SET ROLE) has no access, as in Supabase.
got="$(psql_as authenticator "select count(*) from public.cameras")"
if [ $? -ne 0 ] && echo "$got" | grep -q 'permission denied'; then
  ok "authenticator without SET ROLE cannot read"
else
  bad "authenticator without SET ROLE cannot read" "$got"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
