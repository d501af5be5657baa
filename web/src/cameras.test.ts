import { describe, expect, it } from 'vitest';
import { fromCameraRow, isMissingColumn, parseApiCameras, resolveUrl, STALE_AFTER_MS, withToken } from './cameras';
import { badgeFor, formatSeconds, offlineText } from './CameraTile';
import { DEFAULT_CONFIG, envConfig, mergeConfig, usesSupabase } from './config';

// The example of the /api/cameras contract (docs/web.md).
const CONTRACT_EXAMPLE = {
  cameras: [
    {
      id: 'cam_floor',
      name: 'Floor Camera',
      status: 'live',
      playlist_url: '/live/cam_floor/stream.m3u8',
      profile: 'low',
      hls: { liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 4 },
      last_segment_time: '2026-11-24T14:35:00.123Z',
      latency: { segment_ms: 2150, publish_ms: 40 },
    },
    {
      id: 'cam_door',
      name: 'Front Door',
      status: 'offline',
      playlist_url: '/live/cam_door/stream.m3u8',
      profile: 'll',
      hls: { lowLatencyMode: true },
      last_segment_time: null,
      latency: { segment_ms: null },
    },
  ],
};

describe('/api/cameras parsing', () => {
  it('parses the contract example', () => {
    const cams = parseApiCameras(CONTRACT_EXAMPLE);
    expect(cams).toEqual([
      {
        id: 'cam_floor',
        name: 'Floor Camera',
        status: 'live',
        playlistUrl: '/live/cam_floor/stream.m3u8',
        profile: 'low',
        hls: { liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 4 },
        lastSegmentTime: '2026-11-24T14:35:00.123Z',
        latency: { segment_ms: 2150, publish_ms: 40 },
      },
      {
        id: 'cam_door',
        name: 'Front Door',
        status: 'offline',
        playlistUrl: '/live/cam_door/stream.m3u8',
        profile: 'll',
        hls: { lowLatencyMode: true },
        lastSegmentTime: null,
        latency: undefined,
      },
    ]);
  });
  it('is tolerant: skips broken entries, defaults unknown fields', () => {
    const cams = parseApiCameras({
      cameras: [null, 7, { id: 'x' }, { playlist_url: '/y.m3u8' }, { id: 3, playlist_url: 'z.m3u8', status: 'weird', profile: 'turbo', hls: [1] }],
    });
    expect(cams).toEqual([
      { id: '3', name: '3', status: 'connecting', playlistUrl: 'z.m3u8', profile: undefined, hls: undefined, lastSegmentTime: null, latency: undefined },
    ]);
  });
  it('clip_share (top level) marks every camera shareable; absent or not true: none is', () => {
    expect(parseApiCameras({ ...CONTRACT_EXAMPLE, clip_share: true }).map((c) => c.clipShare)).toEqual([true, true]);
    expect(parseApiCameras({ ...CONTRACT_EXAMPLE, clip_share: false }).map((c) => c.clipShare)).toEqual([undefined, undefined]);
    expect(parseApiCameras({ ...CONTRACT_EXAMPLE, clip_share: 'yes' }).map((c) => c.clipShare)).toEqual([undefined, undefined]);
    expect(parseApiCameras(CONTRACT_EXAMPLE).some((c) => 'clipShare' in c)).toBe(false);
  });
  it('rejects a body that is not the contract', () => {
    expect(() => parseApiCameras([])).toThrow();
    expect(() => parseApiCameras({ cams: [] })).toThrow();
  });
  it('resolves playlist URLs against a remote API base', () => {
    expect(resolveUrl('/live/a/stream.m3u8', 'http://box.local:8080')).toBe('http://box.local:8080/live/a/stream.m3u8');
    expect(resolveUrl('live/a/stream.m3u8', 'http://box.local:8080/edge')).toBe('http://box.local:8080/edge/live/a/stream.m3u8');
    expect(resolveUrl('https://cdn/x.m3u8', 'http://box.local:8080')).toBe('https://cdn/x.m3u8');
    expect(resolveUrl('/x.m3u8', '')).toBe('/x.m3u8');
  });
});

describe('Supabase rows', () => {
  it('maps a row of the cameras table', () => {
    expect(
      fromCameraRow({ id: 1, camera_key: 'cam_floor', name: 'Floor Camera', stream_url: 'https://x/s.m3u8', status: 'active', is_active: true, profile: 'balanced' }),
    ).toEqual({ id: 'cam_floor', name: 'Floor Camera', status: 'connecting', playlistUrl: 'https://x/s.m3u8', profile: 'balanced', lastSegmentTime: null });
  });
  it('the reference design row (no camera_key, no profile) works', () => {
    const c = fromCameraRow({ id: 7, name: 'Floor Camera', stream_url: 'https://x/s.m3u8', location_id: 1, status: 'active', is_active: true });
    expect(c?.id).toBe('7');
    expect(c?.profile).toBeUndefined();
  });
  it('inactive rows and rows without a URL are dropped; offline status shows offline', () => {
    expect(fromCameraRow({ id: 1, name: 'a', stream_url: '/a.m3u8', is_active: false })).toBeNull();
    expect(fromCameraRow({ id: 1, name: 'a', stream_url: '' })).toBeNull();
    expect(fromCameraRow({ id: 1, name: 'a', stream_url: '/a.m3u8', status: 'offline' })?.status).toBe('offline');
  });
});

describe('Supabase rows kept current by the daemon (last_seen_at)', () => {
  const now = Date.parse('2026-12-03T12:00:00.000Z');
  const row = (lastSeenAgoMs: number | null, status = 'active') => ({
    id: 3,
    camera_key: 'cam_door',
    name: 'Front Door',
    stream_url: 'https://x.supabase.co/storage/v1/object/public/streams/location_1/cam_door/stream.m3u8',
    status,
    is_active: true,
    last_seen_at: lastSeenAgoMs === null ? null : new Date(now - lastSeenAgoMs).toISOString(),
    upload_ms: 35,
    latency_ms: 2150,
  });
  it('a fresh active row is not stale and carries its figures', () => {
    const c = fromCameraRow(row(10_000), now);
    expect(c?.status).toBe('connecting'); // the player decides 'live'
    expect(c?.stale).toBe(false);
    expect(c?.lastSeenAt).toBe('2026-12-03T11:59:50.000Z');
    expect(c?.latency).toEqual({ storage_ms: 2150, upload_ms: 35 });
  });
  it('an active row whose box stopped reporting (last_seen_at older than 90 s) is offline', () => {
    expect(STALE_AFTER_MS).toBe(90_000);
    const c = fromCameraRow(row(STALE_AFTER_MS + 1), now);
    expect(c?.status).toBe('offline');
    expect(c?.stale).toBe(true);
    expect(fromCameraRow(row(STALE_AFTER_MS - 1000), now)?.status).toBe('connecting');
  });
  it('the same row turns stale as time passes, with no change in the table', () => {
    const r = row(60_000);
    expect(fromCameraRow(r, now)?.stale).toBe(false);
    expect(fromCameraRow(r, now + 31_000)?.stale).toBe(true);
  });
  it('an offline row stays offline; rows without last_seen_at are judged by status alone', () => {
    expect(fromCameraRow(row(5_000, 'offline'), now)?.status).toBe('offline');
    const legacy = fromCameraRow(row(null), now);
    expect(legacy?.status).toBe('connecting');
    expect(legacy?.stale).toBeUndefined();
    expect(legacy?.lastSeenAt).toBeUndefined();
  });
  it('a garbled last_seen_at is ignored, not a crash', () => {
    const c = fromCameraRow({ ...row(0), last_seen_at: 'yesterday-ish' }, now);
    expect(c?.status).toBe('connecting');
    expect(c?.stale).toBeUndefined();
  });
  it('knows the answer of a project without the new columns', () => {
    expect(isMissingColumn({ code: '42703', message: 'column cameras.last_seen_at does not exist' })).toBe(true);
    expect(isMissingColumn({ message: 'column cameras.upload_ms does not exist' })).toBe(true);
    expect(isMissingColumn({ code: '42501', message: 'permission denied for table cameras' })).toBe(false);
  });
  it("a stale camera's tile says offline unless frames arrive right now", () => {
    expect(badgeFor('offline', 'stalled', true)).toBe('offline');
    expect(badgeFor('offline', 'connecting', true)).toBe('offline');
    expect(badgeFor('offline', 'recovering', true)).toBe('offline');
    expect(badgeFor('offline', 'live', true)).toBe('live');
    expect(badgeFor('connecting', 'stalled', false)).toBe('live');
  });
  it('the offline overlay says since when', () => {
    const today = new Date('2026-12-03T12:00:00Z');
    expect(offlineText({ stale: true, lastSeenAt: '2026-12-03T11:58:00Z' }, today)).toMatch(/^No report from the shop since \S/);
    expect(offlineText({ stale: false, lastSeenAt: '2026-12-03T11:58:00Z' }, today)).toMatch(/^No signal since .* · reconnecting automatically$/);
    expect(offlineText({}, today)).toBe('No signal · reconnecting automatically');
  });
});

describe('tile badge', () => {
  it("the player's view wins, the origin's status fills in", () => {
    expect(badgeFor('offline', 'live')).toBe('live');
    expect(badgeFor('live', 'stalled')).toBe('live');
    expect(badgeFor('live', 'offline')).toBe('offline');
    expect(badgeFor('offline', 'connecting')).toBe('offline');
    expect(badgeFor('live', 'connecting')).toBe('connecting');
    expect(badgeFor('connecting', 'recovering')).toBe('connecting');
  });
  it('formats seconds', () => {
    expect(formatSeconds(2345)).toBe('2.3 s');
    expect(formatSeconds(null)).toBe('–');
    expect(formatSeconds(NaN)).toBe('–');
  });
});

describe('runtime config', () => {
  it('defaults to the origin API on the same host', () => {
    expect(mergeConfig()).toEqual(DEFAULT_CONFIG);
    expect(usesSupabase(mergeConfig())).toBe(false);
  });
  it('later layers win; Supabase needs both URL and anon key', () => {
    const env = envConfig({ VITE_SUPABASE_URL: 'https://abc.supabase.co/', VITE_API_BASE: 'http://box:8080/' });
    const c1 = mergeConfig(env);
    expect(c1.supabaseUrl).toBe('https://abc.supabase.co');
    expect(c1.apiBase).toBe('http://box:8080');
    expect(usesSupabase(c1)).toBe(false);
    const c2 = mergeConfig(env, { supabaseAnonKey: 'anon-key', locationId: 1, refreshMs: 10000 });
    expect(usesSupabase(c2)).toBe(true);
    expect(c2.locationId).toBe('1');
    expect(c2.refreshMs).toBe(10000);
  });
  it('ignores junk', () => {
    const c = mergeConfig({ supabaseUrl: 42, refreshMs: 5, apiBase: null } as never, null, undefined);
    expect(c).toEqual(DEFAULT_CONFIG);
  });
});

describe('origin token', () => {
  it('comes from any config layer, the page URL last', () => {
    expect(mergeConfig().token).toBeNull();
    expect(mergeConfig({ token: 'a' }, { token: '' }).token).toBe('a');
    expect(mergeConfig({ token: 'a' }, { token: 'b' }).token).toBe('b');
    expect(mergeConfig({ token: 'a' }, { token: null }).token).toBe('a');
  });

  it('goes on playlist URLs as ?token=, encoded, keeping other parameters', () => {
    expect(withToken('http://box:8080/live/cam/stream.m3u8', null)).toBe('http://box:8080/live/cam/stream.m3u8');
    expect(withToken('http://box:8080/live/cam/stream.m3u8', 's3cr&t')).toBe(
      'http://box:8080/live/cam/stream.m3u8?token=s3cr%26t',
    );
    expect(withToken('http://box:8080/live/cam/stream.m3u8?x=1', 't')).toBe('http://box:8080/live/cam/stream.m3u8?x=1&token=t');
    expect(withToken('/live/cam/stream.m3u8', 'a b')).toBe('/live/cam/stream.m3u8?token=a%20b');
  });
});

