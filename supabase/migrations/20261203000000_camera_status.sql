-- edgestream: cameras register themselves (issue 13, docs/storage.md "Camera registration").
--
-- The daemon upserts each camera's row through PostgREST with the service key
-- (POST /rest/v1/cameras?on_conflict=camera_key, Prefer: resolution=merge-duplicates):
-- camera_key, name, stream_url, location_id, profile, status ('active' / 'offline'), and,
-- while the camera streams, these new columns:
--   last_seen_at  when the daemon last received frames from the camera; renewed every
--                 supabase.heartbeat_s (30 s) while it streams, left alone while it is
--                 offline.  A dashboard calls a camera offline when it is stale (3
--                 heartbeats), so a box that died with its cameras "active" still shows
--                 them offline.
--   upload_ms     how long the newest segment's upload to Storage took.
--   latency_ms    capture-to-storage delay of the live edge: from the end of the newest
--                 listed segment's capture (its EXT-X-PROGRAM-DATE-TIME + EXTINF) to the
--                 moment the playlist naming it was stored.  A viewer of the Storage
--                 playlist is behind by this plus the CDN, the polling and the player's
--                 buffer.  The capture time is the camera's clock when it sends RTCP
--                 sender reports, so a camera whose clock is off shifts it.
-- Rows are never deleted by the daemon.
--
-- Row-level security is unchanged: anon/authenticated read active rows only and may not
-- write (no write policy, no write privilege); service_role writes (BYPASSRLS).

alter table public.cameras
  add column last_seen_at timestamptz,
  add column upload_ms    integer check (upload_ms >= 0),
  add column latency_ms   integer check (latency_ms >= 0);

comment on column public.cameras.last_seen_at is 'when edgestream last received frames from the camera (renewed every heartbeat while it streams); stale = offline';
comment on column public.cameras.upload_ms is 'edgestream: duration of the newest segment upload to Storage (ms)';
comment on column public.cameras.latency_ms is 'edgestream: capture-to-storage delay of the live edge (ms): end of the newest listed segment''s capture to its playlist being stored';
comment on column public.cameras.status is 'active | offline (kept current by edgestream while it runs the camera) | maintenance | disabled (set by hand; edgestream overwrites status on its next report, use is_active = false to hide a camera)';

-- Dashboards filter on it (staleness), per location.
create index cameras_location_seen_idx on public.cameras (location_id, last_seen_at) where is_active;

-- A box whose clock runs ahead must not keep a dead camera looking fresh: last_seen_at is
-- never later than the database's own clock.
create or replace function public.cameras_clamp_last_seen()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.last_seen_at is not null and new.last_seen_at > now() then
    new.last_seen_at := now();
  end if;
  return new;
end;
$$;

create trigger cameras_clamp_last_seen
  before insert or update of last_seen_at on public.cameras
  for each row execute function public.cameras_clamp_last_seen();

revoke all on function public.cameras_clamp_last_seen() from public, anon, authenticated;

-- The first migration's grants already cover new columns (table-level privileges):
-- anon/authenticated SELECT only, service_role SELECT/INSERT/UPDATE/DELETE.  Said again
-- here so this file alone shows the rule.
revoke insert, update, delete, truncate on table public.cameras from anon, authenticated;
grant select on table public.cameras to anon, authenticated;
grant select, insert, update on table public.cameras to service_role;
