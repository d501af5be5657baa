import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RECOVERY_OPTIONS,
  backoffDelay,
  initialRecoveryState,
  isStale,
  pollOutcome,
  reduce,
  staleAfterMs,
  summarizePlaylist,
  type RecoveryEvent,
  type RecoveryOptions,
  type RecoveryState,
  type Transition,
} from './recovery';

const opts: Partial<RecoveryOptions> = {};

function run(events: RecoveryEvent[], from: RecoveryState = initialRecoveryState(), o = opts): Transition[] {
  const out: Transition[] = [];
  let s = from;
  for (const e of events) {
    const t = reduce(s, e, o);
    out.push(t);
    s = t.state;
  }
  return out;
}
const last = (ts: Transition[]) => ts[ts.length - 1];
const live = (): RecoveryState => last(run([{ type: 'start' }, { type: 'progress', now: 1000 }])).state;

describe('backoffDelay', () => {
  it('grows exponentially from base and is capped', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 1000, 16000))).toEqual([1000, 2000, 4000, 8000, 16000, 16000, 16000]);
  });
  it('never exceeds the cap, even with huge attempts or jitter', () => {
    for (const a of [10, 100, 1e6, Number.MAX_SAFE_INTEGER]) expect(backoffDelay(a, 1000, 30000)).toBe(30000);
    for (const r of [0, 0.5, 0.999]) {
      for (let a = 0; a < 20; a++) {
        const d = backoffDelay(a, 1000, 8000, 2, 0.5, () => r);
        expect(d).toBeLessThanOrEqual(8000);
        expect(d).toBeGreaterThanOrEqual(0);
      }
    }
  });
  it('jitter spreads around the nominal delay', () => {
    expect(backoffDelay(1, 1000, 16000, 2, 0.2, () => 0)).toBe(1600);
    expect(backoffDelay(1, 1000, 16000, 2, 0.2, () => 1)).toBe(2400);
    expect(backoffDelay(-3, 1000, 16000)).toBe(1000);
  });
});

describe('start / progress / stop', () => {
  it('idle ignores everything but start', () => {
    const s = initialRecoveryState();
    for (const e of [{ type: 'progress', now: 1 }, { type: 'networkError' }, { type: 'stale' }] as RecoveryEvent[]) {
      expect(reduce(s, e)).toEqual({ state: s, actions: [] });
    }
  });
  it('start -> connecting, progress -> live', () => {
    const [a, b] = run([{ type: 'start' }, { type: 'progress', now: 5 }]);
    expect(a.state.phase).toBe('connecting');
    expect(a.actions).toEqual([]);
    expect(b.state.phase).toBe('live');
  });
  it('stall while live -> stalled and counted; progress -> live again', () => {
    const ts = run([{ type: 'stall' }, { type: 'progress', now: 2000 }, { type: 'stall' }], live());
    expect(ts[0].state.phase).toBe('stalled');
    expect(ts[0].state.stalls).toBe(1);
    expect(ts[1].state.phase).toBe('live');
    expect(ts[2].state.stalls).toBe(2);
  });
  it('stall while connecting is not counted', () => {
    const t = last(run([{ type: 'start' }, { type: 'stall' }]));
    expect(t.state.phase).toBe('connecting');
    expect(t.state.stalls).toBe(0);
  });
  it('stop tears down and returns to idle', () => {
    const t = reduce(live(), { type: 'stop' });
    expect(t.state.phase).toBe('idle');
    expect(t.actions).toEqual([{ type: 'teardown' }]);
  });
});

describe('network errors', () => {
  it('retry with exponential backoff, then offline after maxNetworkRetries', () => {
    const ts = run([{ type: 'start' }, ...Array.from({ length: 5 }, () => ({ type: 'networkError' }) as RecoveryEvent)]);
    const retries = ts.slice(1, 5);
    expect(retries.map((t) => t.state.phase)).toEqual(['recovering', 'recovering', 'recovering', 'recovering']);
    expect(retries.map((t) => t.actions)).toEqual([1000, 2000, 4000, 8000].map((d) => [{ type: 'retryLoad', delayMs: d }]));
    const off = ts[5];
    expect(off.state.phase).toBe('offline');
    expect(off.actions).toEqual([{ type: 'teardown' }, { type: 'schedulePoll', delayMs: 1000 }]);
    expect(off.state.reason).toMatch(/^network/);
  });
  it('the retry delay is capped at maxDelayMs', () => {
    const o = { maxNetworkRetries: 20, maxDelayMs: 5000 };
    const ts = run([{ type: 'start' }, ...Array.from({ length: 12 }, () => ({ type: 'networkError' }) as RecoveryEvent)], undefined, o);
    const delays = ts.slice(1).map((t) => (t.actions[0] as { delayMs: number }).delayMs);
    expect(delays.slice(0, 4)).toEqual([1000, 2000, 4000, 5000]);
    expect(Math.max(...delays)).toBe(5000);
  });
  it('playback in between resets the count', () => {
    let s = live();
    for (let i = 0; i < 10; i++) {
      const t = reduce(s, { type: 'networkError' });
      expect(t.actions).toEqual([{ type: 'retryLoad', delayMs: 1000 }]);
      s = reduce(t.state, { type: 'progress', now: 10_000 + i }).state;
      expect(s.phase).toBe('live');
    }
  });
});

describe('media errors', () => {
  it('recoverMediaError, then swapAudioCodec+recover, then rebuild', () => {
    const ts = run([{ type: 'mediaError', now: 1000 }, { type: 'mediaError', now: 2000 }, { type: 'mediaError', now: 3000 }], live());
    expect(ts[0].actions).toEqual([{ type: 'recoverMediaError' }]);
    expect(ts[1].actions).toEqual([{ type: 'swapAudioCodecAndRecover' }]);
    expect(ts[2].actions).toEqual([{ type: 'rebuild', delayMs: 1000 }]);
    expect(ts.map((t) => t.state.phase)).toEqual(['recovering', 'recovering', 'recovering']);
  });
  it('a media error long after the last one starts over at recoverMediaError', () => {
    const w = DEFAULT_RECOVERY_OPTIONS.mediaErrorWindowMs;
    const ts = run([{ type: 'mediaError', now: 1000 }, { type: 'mediaError', now: 1000 + w + 1 }], live());
    expect(ts[1].actions).toEqual([{ type: 'recoverMediaError' }]);
  });
  it('progress soon after a media error keeps the escalation; later it resets', () => {
    let s = reduce(live(), { type: 'mediaError', now: 1000 }).state;
    s = reduce(s, { type: 'progress', now: 1500 }).state;
    expect(reduce(s, { type: 'mediaError', now: 2000 }).actions).toEqual([{ type: 'swapAudioCodecAndRecover' }]);
    s = reduce(s, { type: 'progress', now: 100_000 }).state;
    expect(s.mediaStage).toBe(0);
    expect(reduce(s, { type: 'mediaError', now: 100_500 }).actions).toEqual([{ type: 'recoverMediaError' }]);
  });
  it('endless media errors end offline (rebuilds are bounded)', () => {
    let s = live();
    let t: Transition = { state: s, actions: [] };
    const seen: string[] = [];
    for (let i = 0; i < 40 && s.phase !== 'offline'; i++) {
      t = reduce(s, { type: 'mediaError', now: 1000 + i * 100 });
      s = t.state;
      seen.push(t.actions[0].type);
    }
    expect(s.phase).toBe('offline');
    expect(seen.filter((x) => x === 'rebuild').length).toBe(DEFAULT_RECOVERY_OPTIONS.maxRebuilds);
    expect(t.actions[0]).toEqual({ type: 'teardown' });
  });
});

describe('other fatal errors', () => {
  it('rebuild with backoff, offline after maxRebuilds', () => {
    const ts = run(Array.from({ length: 4 }, () => ({ type: 'fatalError' }) as RecoveryEvent), live());
    expect(ts.slice(0, 3).map((t) => t.actions)).toEqual([1000, 2000, 4000].map((d) => [{ type: 'rebuild', delayMs: d }]));
    expect(ts[3].state.phase).toBe('offline');
  });
});

describe('offline and resume', () => {
  it('stale playlist -> offline -> polls with capped backoff -> resume on advance', () => {
    const ts = run(
      [
        { type: 'stale' },
        ...Array.from({ length: 6 }, () => ({ type: 'pollResult', advanced: false }) as RecoveryEvent),
        { type: 'pollResult', advanced: true },
        { type: 'progress', now: 99_000 },
      ],
      live(),
    );
    expect(ts[0].state.phase).toBe('offline');
    expect(ts[0].actions).toEqual([{ type: 'teardown' }, { type: 'schedulePoll', delayMs: 1000 }]);
    const polls = ts.slice(1, 7).map((t) => (t.actions[0] as { delayMs: number }).delayMs);
    expect(polls).toEqual([2000, 4000, 8000, 8000, 8000, 8000]);
    expect(ts.slice(1, 7).every((t) => t.state.phase === 'offline')).toBe(true);
    const resume = ts[7];
    expect(resume.state.phase).toBe('connecting');
    expect(resume.actions).toEqual([{ type: 'rebuild', delayMs: 0 }]);
    expect(resume.state.pollAttempt).toBe(0);
    expect(ts[8].state.phase).toBe('live');
    expect(ts[8].state.reason).toBeNull();
  });
  it('while offline, errors, stale reports and progress of a torn-down player are ignored', () => {
    const off = reduce(live(), { type: 'stale' }).state;
    for (const e of [
      { type: 'networkError' },
      { type: 'mediaError', now: 5 },
      { type: 'fatalError' },
      { type: 'stale' },
      { type: 'progress', now: 5 },
    ] as RecoveryEvent[]) {
      expect(reduce(off, e)).toEqual({ state: off, actions: [] });
    }
  });
  it('poll results outside offline are ignored', () => {
    const s = live();
    expect(reduce(s, { type: 'pollResult', advanced: true })).toEqual({ state: s, actions: [] });
  });
  it('after resume, a new outage starts the retry count afresh', () => {
    let s = reduce(live(), { type: 'stale' }).state;
    s = reduce(s, { type: 'pollResult', advanced: true }).state;
    const t = reduce(s, { type: 'networkError' });
    expect(t.actions).toEqual([{ type: 'retryLoad', delayMs: 1000 }]);
  });
  it('the stall count survives recovery and restart', () => {
    let s = reduce(live(), { type: 'stall' }).state;
    s = reduce(s, { type: 'stale' }).state;
    s = reduce(s, { type: 'start' }).state;
    expect(s.stalls).toBe(1);
  });
});

describe('stale detection', () => {
  it('threshold is staleFactor x target duration, at least minStaleMs', () => {
    expect(staleAfterMs(1)).toBe(4000);
    expect(staleAfterMs(2)).toBe(6000);
    expect(staleAfterMs(6)).toBe(18000);
    expect(staleAfterMs(null)).toBe(4000);
  });
  it('isStale', () => {
    expect(isStale(10_000, 7_000, 1, true)).toBe(false);
    expect(isStale(11_001, 7_000, 1, true)).toBe(true);
    // before the first playlist, the (longer) connect timeout applies
    expect(isStale(11_001, 7_000, 1, false)).toBe(false);
    expect(isStale(27_001, 7_000, 1, false)).toBe(true);
  });
});

const MEDIA = (seq: number, n = 3, ended = false) =>
  [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:2',
    `#EXT-X-MEDIA-SEQUENCE:${seq}`,
    ...Array.from({ length: n }, (_, i) => [`#EXT-X-PROGRAM-DATE-TIME:2026-11-24T14:35:0${i}.000Z`, '#EXTINF:2.000000,', `segment_${String(seq + i).padStart(3, '0')}.ts`]).flat(),
    ...(ended ? ['#EXT-X-ENDLIST'] : []),
    '',
  ].join('\n');

describe('playlist polling', () => {
  it('summarizes a media playlist', () => {
    const s = summarizePlaylist(MEDIA(42));
    expect(s).toMatchObject({ isMultivariant: false, mediaSequence: 42, targetDuration: 2, segments: 3, lastUri: 'segment_044.ts', ended: false });
    expect(s.fingerprint).not.toBeNull();
  });
  it('summarizes LL parts and a multivariant playlist', () => {
    const ll = summarizePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-PART:DURATION=0.25,URI="p0.m4s"\n#EXT-X-PART:DURATION=0.25,URI="p1.m4s"\n');
    expect(ll.parts).toBe(2);
    expect(ll.fingerprint).not.toBeNull();
    const mv = summarizePlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/stream.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\nhigh/stream.m3u8\n');
    expect(mv.isMultivariant).toBe(true);
    expect(mv.variantUri).toBe('low/stream.m3u8');
    expect(mv.fingerprint).toBeNull();
  });
  it('garbage is not a playlist', () => {
    expect(summarizePlaylist('<html>404</html>').fingerprint).toBeNull();
    expect(summarizePlaylist('').segments).toBe(0);
  });
  it('the first poll only records; a changed playlist then counts as advanced', () => {
    const a = pollOutcome({ kind: 'none' }, summarizePlaylist(MEDIA(10)));
    expect(a.advanced).toBe(false);
    const b = pollOutcome(a.memory, summarizePlaylist(MEDIA(10)));
    expect(b.advanced).toBe(false);
    const c = pollOutcome(b.memory, summarizePlaylist(MEDIA(11)));
    expect(c.advanced).toBe(true);
  });
  it('a playlist that comes back after failed polls counts as advanced', () => {
    const a = pollOutcome({ kind: 'none' }, null);
    expect(a).toEqual({ advanced: false, memory: { kind: 'failed', lastSeen: null } });
    expect(pollOutcome(a.memory, summarizePlaylist(MEDIA(0))).advanced).toBe(true);
  });
  it('a failed poll between two identical playlists does not count; a changed one does', () => {
    const a = pollOutcome({ kind: 'none' }, summarizePlaylist(MEDIA(10)));
    const b = pollOutcome(a.memory, null);
    expect(b).toEqual({ advanced: false, memory: { kind: 'failed', lastSeen: summarizePlaylist(MEDIA(10)).fingerprint } });
    expect(pollOutcome(b.memory, summarizePlaylist(MEDIA(10))).advanced).toBe(false);
    expect(pollOutcome(b.memory, summarizePlaylist(MEDIA(12))).advanced).toBe(true);
  });
  it('ENDLIST and empty playlists never count', () => {
    const a = pollOutcome({ kind: 'failed', lastSeen: null }, summarizePlaylist(MEDIA(10, 3, true)));
    expect(a.advanced).toBe(false);
    const b = pollOutcome({ kind: 'failed', lastSeen: null }, summarizePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n'));
    expect(b.advanced).toBe(false);
  });
});
