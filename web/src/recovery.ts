// The player's recovery logic as a pure state machine: (state, event) -> (state, actions).
//
// HLSPlayer.tsx feeds it what hls.js (or the native <video>) reports and carries out the
// actions it returns; nothing in here touches hls.js, the DOM or a clock, so every
// transition is unit-tested (src/recovery.test.ts).
//
//  network error (fatal)  -> retry loading after a capped exponential backoff; after
//                            `maxNetworkRetries` in a row without playback -> offline
//  media error (fatal)    -> hls.recoverMediaError(); again within `mediaErrorWindowMs`
//                            -> swapAudioCodec() + recoverMediaError(); again -> rebuild
//                            the player; too many rebuilds in a row -> offline
//  other fatal error      -> rebuild the player after a backoff (counts as a rebuild)
//  playlist stops advancing for max(staleFactor x target duration, minStaleMs),
//  or nothing loads within connectTimeoutMs -> offline
//  offline                -> tear hls.js down and poll the playlist with capped backoff;
//                            the first poll that shows the playlist advancing -> rebuild
//                            (automatic resume, no page reload)

export type PlayerPhase =
  | 'idle' // not started or destroyed
  | 'connecting' // loading the playlist / first segments
  | 'live' // frames are being shown
  | 'stalled' // was live, buffer ran dry; hls.js is catching up on its own
  | 'recovering' // a recovery action is under way
  | 'offline'; // the camera is not publishing; polling for its return

export interface RecoveryOptions {
  /** First retry delay. */
  baseDelayMs: number;
  /** Cap of the retry delay. */
  maxDelayMs: number;
  /** Growth per attempt. */
  factor: number;
  /** +/- fraction of random spread on each delay (0 = deterministic). */
  jitter: number;
  /** Consecutive fatal network errors tolerated before going offline. */
  maxNetworkRetries: number;
  /** A second media error within this window escalates the recovery step. */
  mediaErrorWindowMs: number;
  /** Consecutive player rebuilds (media/other fatal errors) before going offline. */
  maxRebuilds: number;
  /** The playlist is stale when it has not advanced for staleFactor x target duration... */
  staleFactor: number;
  /** ...but never less than this. */
  minStaleMs: number;
  /** Going from connecting to live may take at most this long before we call it offline. */
  connectTimeoutMs: number;
  /** Offline polling: first delay and cap. */
  pollBaseDelayMs: number;
  pollMaxDelayMs: number;
}

export const DEFAULT_RECOVERY_OPTIONS: Readonly<RecoveryOptions> = Object.freeze({
  baseDelayMs: 1000,
  maxDelayMs: 16000,
  factor: 2,
  jitter: 0,
  maxNetworkRetries: 4,
  mediaErrorWindowMs: 5000,
  maxRebuilds: 3,
  staleFactor: 3,
  minStaleMs: 4000,
  connectTimeoutMs: 20000,
  pollBaseDelayMs: 1000,
  pollMaxDelayMs: 8000,
});

export interface RecoveryState {
  phase: PlayerPhase;
  /** Fatal network errors since playback last advanced. */
  networkFailures: number;
  /** 0 = no media error pending, 1 = recoverMediaError done, 2 = swapAudioCodec done. */
  mediaStage: 0 | 1 | 2;
  lastMediaErrorAt: number | null;
  /** Player rebuilds since playback last advanced. */
  rebuilds: number;
  /** Offline polls made since going offline. */
  pollAttempt: number;
  /** Why we are offline / recovering (for display and logs). */
  reason: string | null;
  /** Buffer stalls seen while live (a statistic, never reset by recovery). */
  stalls: number;
}

export type RecoveryEvent =
  | { type: 'start' }
  | { type: 'progress'; now: number }
  | { type: 'stall' }
  | { type: 'networkError'; details?: string }
  | { type: 'mediaError'; now: number; details?: string }
  | { type: 'fatalError'; details?: string }
  | { type: 'stale'; reason?: string }
  | { type: 'pollResult'; advanced: boolean }
  | { type: 'stop' };

export type RecoveryAction =
  /** Retry loading: hls.startLoad() if the manifest was parsed, else loadSource(src) again. */
  | { type: 'retryLoad'; delayMs: number }
  | { type: 'recoverMediaError' }
  | { type: 'swapAudioCodecAndRecover' }
  /** Destroy the player and make a fresh one (after delayMs). */
  | { type: 'rebuild'; delayMs: number }
  /** Destroy the player, leave the <video> empty. */
  | { type: 'teardown' }
  /** Fetch the playlist after delayMs and report { type: 'pollResult' }. */
  | { type: 'schedulePoll'; delayMs: number };

export interface Transition {
  state: RecoveryState;
  actions: RecoveryAction[];
}

export function initialRecoveryState(): RecoveryState {
  return {
    phase: 'idle',
    networkFailures: 0,
    mediaStage: 0,
    lastMediaErrorAt: null,
    rebuilds: 0,
    pollAttempt: 0,
    reason: null,
    stalls: 0,
  };
}

/**
 * Capped exponential backoff: base * factor^attempt, capped at max, with an optional
 * +/- jitter spread (the cap holds after jitter too).  attempt counts from 0.
 */
export function backoffDelay(
  attempt: number,
  base: number,
  max: number,
  factor = 2,
  jitter = 0,
  random: () => number = Math.random,
): number {
  const n = Math.max(0, Math.floor(attempt));
  // Cap the exponent so huge attempt counts cannot overflow to Infinity/NaN.
  const raw = base * Math.pow(factor, Math.min(n, 64));
  let d = Math.min(max, Number.isFinite(raw) ? raw : max);
  if (jitter > 0) d = d * (1 - jitter + 2 * jitter * random());
  return Math.round(Math.max(0, Math.min(max, d)));
}

function retryDelay(attempt: number, o: RecoveryOptions, random?: () => number): number {
  return backoffDelay(attempt, o.baseDelayMs, o.maxDelayMs, o.factor, o.jitter, random);
}

function pollDelay(attempt: number, o: RecoveryOptions, random?: () => number): number {
  return backoffDelay(attempt, o.pollBaseDelayMs, o.pollMaxDelayMs, o.factor, o.jitter, random);
}

function goOffline(s: RecoveryState, reason: string, o: RecoveryOptions, random?: () => number): Transition {
  return {
    state: { ...s, phase: 'offline', reason, pollAttempt: 0, mediaStage: 0, lastMediaErrorAt: null },
    actions: [{ type: 'teardown' }, { type: 'schedulePoll', delayMs: pollDelay(0, o, random) }],
  };
}

/** The transition function. Unknown or out-of-place events leave the state unchanged. */
export function reduce(
  s: RecoveryState,
  e: RecoveryEvent,
  options: Partial<RecoveryOptions> = {},
  random?: () => number,
): Transition {
  const o: RecoveryOptions = { ...DEFAULT_RECOVERY_OPTIONS, ...options };
  const same: Transition = { state: s, actions: [] };

  if (e.type === 'stop') {
    return { state: { ...initialRecoveryState(), stalls: s.stalls }, actions: [{ type: 'teardown' }] };
  }
  if (e.type === 'start') {
    return { state: { ...initialRecoveryState(), phase: 'connecting', stalls: s.stalls }, actions: [] };
  }
  if (s.phase === 'idle') return same;

  switch (e.type) {
    case 'progress': {
      if (s.phase === 'offline') return same; // stale frames from a torn-down player
      const mediaExpired = s.lastMediaErrorAt === null || e.now - s.lastMediaErrorAt > o.mediaErrorWindowMs;
      return {
        state: {
          ...s,
          phase: 'live',
          networkFailures: 0,
          rebuilds: 0,
          pollAttempt: 0,
          reason: null,
          mediaStage: mediaExpired ? 0 : s.mediaStage,
          lastMediaErrorAt: mediaExpired ? null : s.lastMediaErrorAt,
        },
        actions: [],
      };
    }
    case 'stall': {
      if (s.phase !== 'live') return same;
      return { state: { ...s, phase: 'stalled', stalls: s.stalls + 1 }, actions: [] };
    }
    case 'networkError': {
      if (s.phase === 'offline') return same;
      const failures = s.networkFailures + 1;
      if (failures > o.maxNetworkRetries) {
        return goOffline({ ...s, networkFailures: failures }, `network: ${e.details ?? 'error'}`, o, random);
      }
      return {
        state: { ...s, phase: 'recovering', networkFailures: failures, reason: `network: ${e.details ?? 'error'}` },
        actions: [{ type: 'retryLoad', delayMs: retryDelay(failures - 1, o, random) }],
      };
    }
    case 'mediaError': {
      if (s.phase === 'offline') return same;
      const recent = s.lastMediaErrorAt !== null && e.now - s.lastMediaErrorAt <= o.mediaErrorWindowMs;
      const reason = `media: ${e.details ?? 'error'}`;
      if (!recent || s.mediaStage === 0) {
        return {
          state: { ...s, phase: 'recovering', mediaStage: 1, lastMediaErrorAt: e.now, reason },
          actions: [{ type: 'recoverMediaError' }],
        };
      }
      if (s.mediaStage === 1) {
        return {
          state: { ...s, phase: 'recovering', mediaStage: 2, lastMediaErrorAt: e.now, reason },
          actions: [{ type: 'swapAudioCodecAndRecover' }],
        };
      }
      return rebuildOrOffline({ ...s, mediaStage: 0, lastMediaErrorAt: null }, reason, o, random);
    }
    case 'fatalError': {
      if (s.phase === 'offline') return same;
      return rebuildOrOffline(s, `fatal: ${e.details ?? 'error'}`, o, random);
    }
    case 'stale': {
      if (s.phase === 'offline') return same;
      return goOffline(s, e.reason ?? 'playlist stopped advancing', o, random);
    }
    case 'pollResult': {
      if (s.phase !== 'offline') return same;
      if (e.advanced) {
        return {
          state: { ...s, phase: 'connecting', networkFailures: 0, rebuilds: 0, pollAttempt: 0, reason: null },
          actions: [{ type: 'rebuild', delayMs: 0 }],
        };
      }
      const attempt = s.pollAttempt + 1;
      return {
        state: { ...s, pollAttempt: attempt },
        actions: [{ type: 'schedulePoll', delayMs: pollDelay(attempt, o, random) }],
      };
    }
  }
  return same;
}

function rebuildOrOffline(s: RecoveryState, reason: string, o: RecoveryOptions, random?: () => number): Transition {
  const rebuilds = s.rebuilds + 1;
  if (rebuilds > o.maxRebuilds) return goOffline({ ...s, rebuilds }, reason, o, random);
  return {
    state: { ...s, phase: 'recovering', rebuilds, reason },
    actions: [{ type: 'rebuild', delayMs: retryDelay(rebuilds - 1, o, random) }],
  };
}

/** How long the playlist may stand still before the camera counts as offline (ms). */
export function staleAfterMs(targetDurationS: number | null | undefined, options: Partial<RecoveryOptions> = {}): number {
  const o = { ...DEFAULT_RECOVERY_OPTIONS, ...options };
  const td = typeof targetDurationS === 'number' && targetDurationS > 0 ? targetDurationS : 0;
  return Math.max(o.minStaleMs, o.staleFactor * td * 1000);
}

/** True when the playlist last advanced too long ago (or never did within connectTimeoutMs). */
export function isStale(
  now: number,
  lastAdvanceAt: number,
  targetDurationS: number | null | undefined,
  everAdvanced: boolean,
  options: Partial<RecoveryOptions> = {},
): boolean {
  const o = { ...DEFAULT_RECOVERY_OPTIONS, ...options };
  const limit = everAdvanced ? staleAfterMs(targetDurationS, o) : Math.max(o.connectTimeoutMs, staleAfterMs(targetDurationS, o));
  return now - lastAdvanceAt > limit;
}

// ---------------------------------------------------------------------------------------
// Playlist polling while offline.

export interface PlaylistSummary {
  /** True for a multivariant (master) playlist. */
  isMultivariant: boolean;
  /** First variant URI of a multivariant playlist (to poll instead). */
  variantUri: string | null;
  mediaSequence: number | null;
  targetDuration: number | null;
  segments: number;
  parts: number;
  lastUri: string | null;
  ended: boolean;
  /** Identifies this playlist version: changes whenever the playlist advances. */
  fingerprint: string | null;
}

/** Summarise an M3U8 text. Tolerant: never throws. */
export function summarizePlaylist(text: string): PlaylistSummary {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const sum: PlaylistSummary = {
    isMultivariant: false,
    variantUri: null,
    mediaSequence: null,
    targetDuration: null,
    segments: 0,
    parts: 0,
    lastUri: null,
    ended: false,
    fingerprint: null,
  };
  if (lines[0] !== '#EXTM3U') return sum;
  let expectVariant = false;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-STREAM-INF')) {
      sum.isMultivariant = true;
      expectVariant = true;
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      const n = Number(line.slice('#EXT-X-MEDIA-SEQUENCE:'.length));
      if (Number.isFinite(n)) sum.mediaSequence = n;
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      const n = Number(line.slice('#EXT-X-TARGETDURATION:'.length));
      if (Number.isFinite(n)) sum.targetDuration = n;
    } else if (line.startsWith('#EXT-X-PART:')) {
      sum.parts += 1;
    } else if (line === '#EXT-X-ENDLIST') {
      sum.ended = true;
    } else if (!line.startsWith('#')) {
      if (expectVariant) {
        if (sum.variantUri === null) sum.variantUri = line;
        expectVariant = false;
      } else {
        sum.segments += 1;
        sum.lastUri = line;
      }
    }
  }
  if (!sum.isMultivariant && (sum.segments > 0 || sum.parts > 0)) {
    sum.fingerprint = `${sum.mediaSequence ?? 0}/${sum.segments}/${sum.parts}/${sum.lastUri ?? ''}`;
  }
  return sum;
}

/** What the offline poller remembers between polls. */
export type PollMemory =
  | { kind: 'none' }
  /** The last poll failed; `lastSeen` is the last playlist version seen before that, if any. */
  | { kind: 'failed'; lastSeen: string | null }
  | { kind: 'seen'; fingerprint: string };

/**
 * One offline poll's verdict.  `current` is the fetched playlist's summary, or null when the
 * fetch failed (network error, HTTP error).
 *  - the first poll after going offline only records what the playlist looks like: a stale
 *    playlist file left behind by a dead camera must not count as the camera returning;
 *  - a later poll counts as "advanced" when the playlist differs from the last version
 *    seen, or when it is back after polls that failed and none was seen before;
 *  - an ENDLIST playlist, or one without media, never counts.
 */
export function pollOutcome(previous: PollMemory, current: PlaylistSummary | null): { advanced: boolean; memory: PollMemory } {
  const lastSeen = previous.kind === 'seen' ? previous.fingerprint : previous.kind === 'failed' ? previous.lastSeen : null;
  if (current === null || current.fingerprint === null || current.ended) {
    return { advanced: false, memory: { kind: 'failed', lastSeen } };
  }
  const memory: PollMemory = { kind: 'seen', fingerprint: current.fingerprint };
  if (previous.kind === 'none') return { advanced: false, memory };
  if (lastSeen === null) return { advanced: true, memory };
  return { advanced: lastSeen !== current.fingerprint, memory };
}
