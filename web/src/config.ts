// Where the dashboard gets its camera list from.
//
// Priority: runtime config (config.json next to index.html, or window.__EDGESTREAM_CONFIG__
// set by a <script> before the app loads) > build-time Vite env (VITE_SUPABASE_URL,
// VITE_SUPABASE_ANON_KEY, VITE_API_BASE) > defaults (the edgestream origin's /api/cameras on
// the same host).  With a Supabase URL and anon key the `cameras` table is read instead.
// An origin with `origin.token` wants it on /api/ and /live/: open the dashboard as
// `/?token=…` (or put `token` in config.json) and it goes on every request it makes there.
// `protocol` ('auto' by default: WebRTC, falling back to LL-HLS / HLS) is how tiles play;
// `?protocol=` on the page overrides it (it never decides LL: the playlist does).

import { isProtocolChoice, type ProtocolChoice } from './protocol';

export interface RuntimeConfig {
  /** Base URL of the edgestream origin ('' = same origin as the page). */
  apiBase: string;
  supabaseUrl: string | null;
  supabaseAnonKey: string | null;
  /** Only show cameras of this location (Supabase mode). */
  locationId: string | null;
  /** How often the camera list is refreshed (ms). */
  refreshMs: number;
  /** The origin's bearer token (origin.token), or null when it has none. */
  token: string | null;
  /** How the tiles play: 'auto' (WebRTC, else LL-HLS / HLS), 'webrtc', 'll-hls' or 'hls'. */
  protocol: ProtocolChoice;
}

export const DEFAULT_CONFIG: RuntimeConfig = {
  apiBase: '',
  supabaseUrl: null,
  supabaseAnonKey: null,
  locationId: null,
  refreshMs: 5000,
  token: null,
  protocol: 'auto',
};

type Loose = Record<string, unknown>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** Merge config layers (later wins); unknown keys and wrong types are ignored. */
export function mergeConfig(...layers: Array<Loose | null | undefined>): RuntimeConfig {
  const out: RuntimeConfig = { ...DEFAULT_CONFIG };
  for (const l of layers) {
    if (!l || typeof l !== 'object') continue;
    const apiBase = typeof l.apiBase === 'string' ? l.apiBase.trim().replace(/\/+$/, '') : null;
    if (apiBase !== null) out.apiBase = apiBase;
    const url = str(l.supabaseUrl);
    if (url) out.supabaseUrl = url.replace(/\/+$/, '');
    const key = str(l.supabaseAnonKey);
    if (key) out.supabaseAnonKey = key;
    const loc = l.locationId;
    if (typeof loc === 'number' || (typeof loc === 'string' && loc.trim() !== '')) out.locationId = String(loc).trim();
    const refresh = Number(l.refreshMs);
    if (Number.isFinite(refresh) && refresh >= 1000) out.refreshMs = refresh;
    const token = str(l.token);
    if (token) out.token = token;
    if (isProtocolChoice(l.protocol)) out.protocol = l.protocol;
  }
  return out;
}

export function envConfig(env: Record<string, unknown>): Loose {
  return {
    apiBase: env.VITE_API_BASE,
    supabaseUrl: env.VITE_SUPABASE_URL,
    supabaseAnonKey: env.VITE_SUPABASE_ANON_KEY,
    locationId: env.VITE_LOCATION_ID,
  };
}

export function usesSupabase(c: RuntimeConfig): boolean {
  return !!(c.supabaseUrl && c.supabaseAnonKey);
}

/** Load the runtime config once at startup. A missing config.json is normal. */
export async function loadConfig(): Promise<RuntimeConfig> {
  const env = envConfig(import.meta.env as unknown as Record<string, unknown>);
  let file: Loose | null = null;
  try {
    const res = await fetch(new URL('config.json', document.baseURI).href, { cache: 'no-store' });
    if (res.ok && (res.headers.get('content-type') ?? '').includes('json')) file = (await res.json()) as Loose;
  } catch {
    file = null;
  }
  const win = (window as unknown as { __EDGESTREAM_CONFIG__?: Loose }).__EDGESTREAM_CONFIG__ ?? null;
  const q = new URLSearchParams(location.search);
  const page = { token: q.get('token'), protocol: q.get('protocol') };
  return mergeConfig(env, file, win, page);
}
