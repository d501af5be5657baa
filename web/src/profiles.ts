// The one table of latency profiles for the player.
//
// The reference design (shared/reference/live-streaming-design.md, "HLSPlayer.tsx - Player
// Settings") configures hls.js with REFERENCE_HLS_CONFIG below; that is our default.  The
// reference's "Latency vs Stability Tradeoffs" table gives each named profile its segment
// length and how many segments the player stays behind the live edge; `ll` is ours, for the
// edgestream origin's Low-Latency HLS.
//
// Every profile setting lives in PROFILES; nothing else in the app hard-codes a profile value.

import type { HlsConfig } from 'hls.js';

export type ProfileName = 'ultra-low' | 'low' | 'balanced' | 'stable' | 'll';

export const PROFILE_NAMES: readonly ProfileName[] = ['ultra-low', 'low', 'balanced', 'stable', 'll'];

/** The subset of hls.js settings a profile may set. */
export type PlayerHlsConfig = Partial<
  Pick<
    HlsConfig,
    | 'enableWorker'
    | 'lowLatencyMode'
    | 'backBufferLength'
    | 'maxBufferLength'
    | 'maxMaxBufferLength'
    | 'liveSyncDurationCount'
    | 'liveMaxLatencyDurationCount'
    | 'liveSyncDuration'
    | 'liveMaxLatencyDuration'
    | 'liveDurationInfinity'
    | 'highBufferWatchdogPeriod'
    | 'maxLiveSyncPlaybackRate'
  >
> &
  Record<string, unknown>;

/** The reference design's HLSPlayer.tsx settings, verbatim. The default when no profile is given. */
export const REFERENCE_HLS_CONFIG = Object.freeze({
  enableWorker: true,
  lowLatencyMode: true,
  backBufferLength: 30, // seconds of back buffer to keep
  maxBufferLength: 10, // max buffer ahead (seconds)
  maxMaxBufferLength: 20, // absolute max buffer
  liveSyncDurationCount: 2, // segments behind live edge
  liveMaxLatencyDurationCount: 4, // max segments behind before seeking
  liveDurationInfinity: true, // treat as infinite live stream
  highBufferWatchdogPeriod: 1, // buffer check interval (seconds)
} as const);

export interface Profile {
  name: ProfileName;
  label: string;
  /** Segment duration the edge should produce for this profile (seconds). */
  segmentSeconds: number;
  /** LL-HLS part duration (seconds); only for `ll`. */
  partSeconds?: number;
  /** Expected glass-to-glass latency, as the reference table states it. */
  expectedLatency: string;
  stability: string;
  /** hls.js settings: REFERENCE_HLS_CONFIG with the profile's changes applied. */
  hls: Readonly<PlayerHlsConfig>;
}

function withReference(changes: PlayerHlsConfig, remove: readonly string[] = []): Readonly<PlayerHlsConfig> {
  const out: Record<string, unknown> = { ...REFERENCE_HLS_CONFIG, ...changes };
  for (const key of remove) delete out[key];
  return Object.freeze(out) as Readonly<PlayerHlsConfig>;
}

/** THE profile table. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  'ultra-low': {
    name: 'ultra-low',
    label: 'Ultra-low',
    segmentSeconds: 1,
    expectedLatency: '~3-4 s',
    stability: 'Lower',
    hls: withReference({ liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 4 }),
  },
  low: {
    name: 'low',
    label: 'Low',
    segmentSeconds: 2,
    expectedLatency: '~5-7 s',
    stability: 'Medium',
    hls: withReference({ liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 4 }),
  },
  balanced: {
    name: 'balanced',
    label: 'Balanced',
    segmentSeconds: 4,
    expectedLatency: '~15-20 s',
    stability: 'High',
    hls: withReference({ liveSyncDurationCount: 3, liveMaxLatencyDurationCount: 5 }),
  },
  stable: {
    name: 'stable',
    label: 'Stable',
    segmentSeconds: 6,
    expectedLatency: '~30 s+',
    stability: 'Very high',
    hls: withReference({ liveSyncDurationCount: 4, liveMaxLatencyDurationCount: 6 }),
  },
  // Low-Latency HLS from the edgestream origin.  The playlist's PART-HOLD-BACK (3 x part
  // target) must set the distance from live: a user-set liveSyncDurationCount takes
  // precedence over it in hls.js (latency-controller.ts), and 2 whole segments back would
  // throw away what LL-HLS buys.  liveMaxLatencyDurationCount must go too: hls.js refuses a
  // config that sets it without liveSyncDurationCount.  maxLiveSyncPlaybackRate 1 turns
  // hls.js's catch-up off: it only speeds up while more than 1 s is buffered (never, at an LL
  // target) and otherwise resets the rate to 1; the player trims to the target itself
  // (player-controller.ts, trimRate).
  ll: {
    name: 'll',
    label: 'LL-HLS',
    segmentSeconds: 1,
    partSeconds: 0.134,
    expectedLatency: '~0.7 s',
    stability: 'Needs a good LAN',
    hls: withReference({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1 }, [
      'liveSyncDurationCount',
      'liveMaxLatencyDurationCount',
    ]),
  },
});

export function isProfileName(value: unknown): value is ProfileName {
  return typeof value === 'string' && (PROFILE_NAMES as readonly string[]).includes(value);
}

const SYNC_KEYS = ['liveSyncDurationCount', 'liveMaxLatencyDurationCount'] as const;
const SYNC_DURATION_KEYS = ['liveSyncDuration', 'liveMaxLatencyDuration'] as const;

export interface ResolvedConfig {
  config: PlayerHlsConfig;
  /** Adjustments made so that hls.js accepts the config (empty when none). */
  warnings: string[];
}

/**
 * The hls.js config for a profile plus overrides (e.g. the `hls` object of /api/cameras, or
 * the `hlsConfig` prop).  No profile means the reference settings.  The result is always one
 * that hls.js's mergeConfig accepts:
 *  - `undefined` values in overrides delete the key (so an override can remove a setting);
 *  - overrides that use the duration form (liveSyncDuration...) replace the count form;
 *  - a liveMaxLatency* without its liveSync* partner (or not larger than it) is dropped.
 */
export function resolveHlsConfig(
  profile?: ProfileName | string | null,
  overrides?: Record<string, unknown> | null,
): ResolvedConfig {
  const warnings: string[] = [];
  let base: Readonly<PlayerHlsConfig> = REFERENCE_HLS_CONFIG;
  if (profile != null && profile !== '') {
    if (isProfileName(profile)) base = PROFILES[profile].hls;
    else warnings.push(`unknown profile "${profile}", using the reference settings`);
  }
  const out: Record<string, unknown> = { ...base };
  if (overrides) {
    const usesDurations = SYNC_DURATION_KEYS.some((k) => overrides[k] !== undefined && overrides[k] !== null);
    if (usesDurations) for (const k of SYNC_KEYS) delete out[k];
    for (const [k, v] of Object.entries(overrides)) {
      if (v === undefined || v === null) delete out[k];
      else out[k] = v;
    }
  }
  const pairs: Array<[string, string]> = [
    ['liveSyncDurationCount', 'liveMaxLatencyDurationCount'],
    ['liveSyncDuration', 'liveMaxLatencyDuration'],
  ];
  if (out.liveSyncDurationCount !== undefined && out.liveSyncDuration !== undefined) {
    warnings.push('both liveSyncDurationCount and liveSyncDuration set; keeping liveSyncDuration');
    for (const k of SYNC_KEYS) delete out[k];
  }
  for (const [sync, max] of pairs) {
    const s = out[sync];
    const m = out[max];
    if (m === undefined) continue;
    if (typeof s !== 'number' || typeof m !== 'number' || !(m > s)) {
      warnings.push(`${max} (${String(m)}) needs a smaller ${sync} (${String(s)}); dropped ${max}`);
      delete out[max];
    }
  }
  return { config: out as PlayerHlsConfig, warnings };
}
