// The camera list: from the edgestream origin's GET /api/cameras, or from the Supabase
// `cameras` table.  Both are normalised to Camera.  The /api/cameras contract is in
// docs/web.md.

import { isProfileName, type ProfileName } from './profiles';
import type { RuntimeConfig } from './config';

export type CameraStatus = 'live' | 'offline' | 'connecting';

export interface Camera {
  id: string;
  name: string;
  status: CameraStatus;
  playlistUrl: string;
  profile?: ProfileName;
  /** hls.js overrides for this camera (from the origin). */
  hls?: Record<string, unknown>;
  lastSegmentTime: string | null;
  /** Latency figures the origin measured (ms), e.g. { segment_ms: 1234 }. */
  latency?: Record<string, number>;
  /** The camera's WHEP endpoint when the origin names one (`whep_url`); else derived from the playlist URL. */
  whepUrl?: string;
  /** Supabase mode: when the shop box last received frames from the camera (`last_seen_at`). */
  lastSeenAt?: string;
  /**
   * Supabase mode: `last_seen_at` is older than STALE_AFTER_MS, so the camera shows offline
   * whatever its row's status says (the box that reports it may be dead).
   */
  stale?: boolean;
  /** Origin mode: the newest picture (/live/<camera>/snapshot.jpg), the tile's poster. */
  snapshotUrl?: string;
  /** Origin mode: what /api/cameras says about the camera's recording (docs/recording.md). */
  recording?: CameraRecording;
  /**
   * Origin mode: the origin can store clips in its remote store (top-level `clip_share` of
   * /api/cameras), so the timeline offers "Share". Absent (Supabase mode, older origins): no.
   */
  clipShare?: boolean;
}

export interface CameraRecording {
  enabled: boolean;
  state: string | null;
  oldest: string | null;
  newest: string | null;
  /** The camera's /vod/<camera>/ directory URL (playlist, spans.json, snapshots, clips live under it). */
  vodBase: string | null;
}

/** The `recording` object of an /api/cameras entry (absent or malformed: undefined). */
export function parseRecording(v: unknown, apiBase: string): CameraRecording | undefined {
  if (!isObj(v) || typeof v.enabled !== 'boolean') return undefined;
  const s = (x: unknown) => (typeof x === 'string' && x ? x : null);
  const vod = s(v.vod_url);
  return {
    enabled: v.enabled,
    state: s(v.state),
    oldest: s(v.oldest),
    newest: s(v.newest),
    vodBase: vod ? resolveUrl(vod, apiBase).replace(/[?#].*$/, '').replace(/[^/]*$/, '') : null,
  };
}

/** /live/<camera>/snapshot.jpg next to an origin playlist URL (null if it is not one). */
export function liveSnapshotUrl(playlistUrl: string): string | null {
  try {
    const u = new URL(playlistUrl, 'http://x/');
    if (!/\/live\/[^/]+\/[^/]+\.m3u8$/.test(u.pathname)) return null;
    const abs = /^[a-z]+:/i.test(playlistUrl);
    const snap = new URL('snapshot.jpg', u);
    return abs ? snap.href : snap.pathname;
  } catch {
    return null;
  }
}

function asStatus(v: unknown): CameraStatus {
  return v === 'live' || v === 'offline' || v === 'connecting' ? v : 'connecting';
}

function optional<K extends string, V>(k: K, v: V | null | undefined): { [P in K]?: V } {
  return (v === null || v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolve a playlist URL from the API against the API's base. */
export function resolveUrl(url: string, base: string): string {
  if (!base) return url;
  try {
    return new URL(url, base.endsWith('/') ? base : `${base}/`).href;
  } catch {
    return url;
  }
}

/** Parse a GET /api/cameras body. Entries without id or playlist_url are skipped. */
export function parseApiCameras(body: unknown, apiBase = ''): Camera[] {
  if (!isObj(body) || !Array.isArray(body.cameras)) throw new Error('not an /api/cameras response');
  const out: Camera[] = [];
  const clipShare = body.clip_share === true;
  for (const c of body.cameras) {
    if (!isObj(c)) continue;
    const id = typeof c.id === 'string' ? c.id : typeof c.id === 'number' ? String(c.id) : null;
    const url = typeof c.playlist_url === 'string' ? c.playlist_url : null;
    if (!id || !url) continue;
    const latency: Record<string, number> = {};
    if (isObj(c.latency)) {
      for (const [k, v] of Object.entries(c.latency)) if (typeof v === 'number' && Number.isFinite(v)) latency[k] = v;
    }
    out.push({
      id,
      name: typeof c.name === 'string' && c.name ? c.name : id,
      status: asStatus(c.status),
      playlistUrl: resolveUrl(url, apiBase),
      profile: isProfileName(c.profile) ? c.profile : undefined,
      hls: isObj(c.hls) ? c.hls : undefined,
      lastSegmentTime: typeof c.last_segment_time === 'string' ? c.last_segment_time : null,
      latency: Object.keys(latency).length ? latency : undefined,
      ...(typeof c.whep_url === 'string' && c.whep_url ? { whepUrl: resolveUrl(c.whep_url, apiBase) } : {}),
      ...optional('recording', parseRecording(c.recording, apiBase)),
      ...(clipShare ? { clipShare } : {}),
    });
  }
  return out;
}

/** A row of the Supabase `cameras` table (supabase/migrations/*.sql). */
export interface CameraRow {
  id: number | string;
  camera_key?: string | null;
  name: string;
  stream_url: string;
  location_id?: number | string | null;
  status?: string | null;
  is_active?: boolean | null;
  profile?: string | null;
  /** Kept current by the edgestream daemon (20261203000000_camera_status.sql). */
  last_seen_at?: string | null;
  upload_ms?: number | null;
  latency_ms?: number | null;
}

/**
 * A camera whose `last_seen_at` is older than this is offline: the daemon renews it every
 * 30 s (supabase.heartbeat_s) while the camera streams, so this is three missed renewals.
 */
export const STALE_AFTER_MS = 90_000;

/**
 * Map a table row. `status` is 'active' / 'offline' as the daemon reports it (or the
 * operator's 'maintenance' / 'disabled'); a stale `last_seen_at` makes an 'active' row
 * offline too, since a box that died cannot say so. Rows without `last_seen_at` (entered by
 * hand, no daemon registering them) are judged by their status alone.
 */
export function fromCameraRow(row: CameraRow, now: number = Date.now()): Camera | null {
  if (!row || !row.stream_url || row.is_active === false) return null;
  let status: CameraStatus = row.status === 'offline' || row.status === 'disabled' || row.status === 'maintenance' ? 'offline' : row.status === 'live' ? 'live' : 'connecting';
  const seen = typeof row.last_seen_at === 'string' ? Date.parse(row.last_seen_at) : NaN;
  const stale = Number.isFinite(seen) && now - seen > STALE_AFTER_MS;
  if (stale) status = 'offline';
  const latency: Record<string, number> = {};
  if (typeof row.latency_ms === 'number' && Number.isFinite(row.latency_ms)) latency.storage_ms = row.latency_ms;
  if (typeof row.upload_ms === 'number' && Number.isFinite(row.upload_ms)) latency.upload_ms = row.upload_ms;
  return {
    id: row.camera_key || String(row.id),
    name: row.name || row.camera_key || String(row.id),
    status,
    playlistUrl: row.stream_url,
    profile: isProfileName(row.profile) ? row.profile : undefined,
    lastSegmentTime: null,
    ...(Object.keys(latency).length ? { latency } : {}),
    ...(Number.isFinite(seen) ? { lastSeenAt: new Date(seen).toISOString(), stale } : {}),
  };
}

/**
 * The playlist URL with `?token=`: a player cannot add headers to what hls.js fetches, and
 * the origin then carries the token on every URI inside the playlist (docs/origin.md).
 */
export function withToken(url: string, token: string | null): string {
  if (!token) return url;
  try {
    const u = new URL(url);
    u.searchParams.set('token', token);
    return u.href;
  } catch {
    return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  }
}

export async function fetchApiCameras(config: RuntimeConfig, signal?: AbortSignal): Promise<Camera[]> {
  const base = config.apiBase;
  const url = base ? `${base}/api/cameras` : 'api/cameras';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (config.token) headers.authorization = `Bearer ${config.token}`;
  const res = await fetch(new URL(url, document.baseURI).href, { cache: 'no-store', signal, headers });
  if (res.status === 401) throw new Error('GET /api/cameras: HTTP 401 (the origin wants its token: open this page as /?token=…)');
  if (!res.ok) throw new Error(`GET /api/cameras: HTTP ${res.status}`);
  const cameras = parseApiCameras(await res.json(), base ? `${base}/` : new URL('.', document.baseURI).href);
  return cameras.map((c) => ({
    ...c,
    playlistUrl: withToken(c.playlistUrl, config.token),
    // The origin's snapshot of the newest picture: the tile's poster (docs/recording.md).
    ...optional('snapshotUrl', ((u) => (u ? withToken(u, config.token) : null))(liveSnapshotUrl(c.playlistUrl))),
    ...(c.recording?.vodBase ? { recording: { ...c.recording, vodBase: withToken(c.recording.vodBase, config.token) } } : {}),
  }));
}

type SupabaseClientLike = {
  from: (t: string) => {
    select: (cols: string) => {
      eq: (c: string, v: unknown) => unknown;
    };
  };
};

let supabaseClient: { url: string; client: SupabaseClientLike } | null = null;

const BASE_COLUMNS = 'id,camera_key,name,stream_url,location_id,status,is_active,profile';
const STATUS_COLUMNS = 'last_seen_at,upload_ms,latency_ms';

/** PostgREST's answer for a column the table does not have (42703 / PGRST204). */
export function isMissingColumn(error: { message?: string; code?: string }): boolean {
  return error.code === '42703' || error.code === 'PGRST204' || /column .* does not exist/i.test(error.message ?? '');
}

export async function fetchSupabaseCameras(config: RuntimeConfig): Promise<Camera[]> {
  if (!config.supabaseUrl || !config.supabaseAnonKey) throw new Error('Supabase is not configured');
  if (!supabaseClient || supabaseClient.url !== config.supabaseUrl) {
    // Loaded on demand: dashboards that use /api/cameras never download it.
    const { createClient } = await import('@supabase/supabase-js');
    const client = createClient(config.supabaseUrl, config.supabaseAnonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    supabaseClient = { url: config.supabaseUrl, client: client as unknown as SupabaseClientLike };
  }
  // Row-level security already hides inactive cameras from anon; the filter says so too.
  type Query = PromiseLike<{ data: CameraRow[] | null; error: { message: string; code?: string } | null }> & {
    eq: (c: string, v: unknown) => Query;
    order: (c: string, o?: { ascending: boolean }) => Query;
  };
  const client = supabaseClient.client;
  const query = (columns: string) => {
    let q = client.from('cameras').select(columns).eq('is_active', true) as Query;
    if (config.locationId) q = q.eq('location_id', config.locationId);
    return q.order('name', { ascending: true });
  };
  let { data, error } = await query(`${BASE_COLUMNS},${STATUS_COLUMNS}`);
  // A project without the registration migration has no last_seen_at: read what it has.
  if (error && isMissingColumn(error)) ({ data, error } = await query(BASE_COLUMNS));
  if (error) throw new Error(`Supabase cameras: ${error.message}`);
  const now = Date.now();
  return (data ?? []).map((r) => fromCameraRow(r, now)).filter((c): c is Camera => c !== null);
}
