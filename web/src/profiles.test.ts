import { describe, expect, it } from 'vitest';
import Hls from 'hls.js';
import { PROFILE_NAMES, PROFILES, REFERENCE_HLS_CONFIG, isProfileName, resolveHlsConfig } from './profiles';

// The reference design's HLSPlayer.tsx settings, copied from
// shared/reference/live-streaming-design.md ("Web Side Configuration").
const REFERENCE = {
  enableWorker: true,
  lowLatencyMode: true,
  backBufferLength: 30,
  maxBufferLength: 10,
  maxMaxBufferLength: 20,
  liveSyncDurationCount: 2,
  liveMaxLatencyDurationCount: 4,
  liveDurationInfinity: true,
  highBufferWatchdogPeriod: 1,
};

describe('reference defaults', () => {
  it('REFERENCE_HLS_CONFIG is exactly the reference design config', () => {
    expect({ ...REFERENCE_HLS_CONFIG }).toEqual(REFERENCE);
  });
  it('no profile resolves to the reference config, with no warnings', () => {
    expect(resolveHlsConfig()).toEqual({ config: REFERENCE, warnings: [] });
    expect(resolveHlsConfig(undefined, null).config).toEqual(REFERENCE);
    expect(resolveHlsConfig('').config).toEqual(REFERENCE);
  });
  it('the table is frozen', () => {
    expect(Object.isFrozen(PROFILES)).toBe(true);
    expect(Object.isFrozen(PROFILES.low.hls)).toBe(true);
    expect(Object.isFrozen(REFERENCE_HLS_CONFIG)).toBe(true);
  });
});

describe('profile table', () => {
  it('has the four reference profiles plus ll', () => {
    expect([...PROFILE_NAMES]).toEqual(['ultra-low', 'low', 'balanced', 'stable', 'll']);
    expect(Object.keys(PROFILES).sort()).toEqual([...PROFILE_NAMES].sort());
    for (const n of PROFILE_NAMES) expect(PROFILES[n].name).toBe(n);
  });

  it.each([
    ['ultra-low', 1, 2, 4],
    ['low', 2, 2, 4],
    ['balanced', 4, 3, 5],
    ['stable', 6, 4, 6],
  ] as const)('%s: %is segments, sync %i, max %i, otherwise the reference', (name, seg, sync, max) => {
    const p = PROFILES[name];
    expect(p.segmentSeconds).toBe(seg);
    expect({ ...p.hls }).toEqual({ ...REFERENCE, liveSyncDurationCount: sync, liveMaxLatencyDurationCount: max });
    expect(resolveHlsConfig(name).config).toEqual(p.hls);
  });

  it('low equals the reference settings exactly', () => {
    expect({ ...PROFILES.low.hls }).toEqual(REFERENCE);
  });

  it('ll: low-latency mode and no segment-count sync, so PART-HOLD-BACK sets the distance', () => {
    const hls = PROFILES.ll.hls;
    expect(hls.lowLatencyMode).toBe(true);
    expect('liveSyncDurationCount' in hls).toBe(false);
    expect('liveMaxLatencyDurationCount' in hls).toBe(false);
    expect('liveSyncDuration' in hls).toBe(false);
    // hls.js's catch-up off: the player trims to the target itself (trimRate).
    expect(hls.maxLiveSyncPlaybackRate).toBe(1);
    expect(PROFILES.ll.partSeconds).toBeGreaterThanOrEqual(0.1);
    expect(PROFILES.ll.partSeconds).toBeLessThanOrEqual(0.2);
    // everything else stays the reference's
    const { liveSyncDurationCount: _a, liveMaxLatencyDurationCount: _b, ...rest } = REFERENCE;
    expect({ ...hls, maxLiveSyncPlaybackRate: undefined }).toEqual({ ...rest, maxLiveSyncPlaybackRate: undefined });
  });

  it('every profile is accepted by hls.js and ll leaves userConfig without sync settings', () => {
    for (const n of PROFILE_NAMES) {
      const hls = new Hls({ ...PROFILES[n].hls });
      if (n === 'll') {
        expect(hls.userConfig.liveSyncDurationCount).toBeUndefined();
        expect(hls.userConfig.liveSyncDuration).toBeUndefined();
      } else {
        expect(hls.config.liveSyncDurationCount).toBe(PROFILES[n].hls.liveSyncDurationCount);
      }
      hls.destroy();
    }
  });

  it('isProfileName', () => {
    expect(isProfileName('ll')).toBe(true);
    expect(isProfileName('LL')).toBe(false);
    expect(isProfileName(undefined)).toBe(false);
  });
});

describe('resolveHlsConfig overrides', () => {
  it('overrides win over the profile', () => {
    const r = resolveHlsConfig('balanced', { maxBufferLength: 6, liveSyncDurationCount: 2 });
    expect(r.config.maxBufferLength).toBe(6);
    expect(r.config.liveSyncDurationCount).toBe(2);
    expect(r.config.liveMaxLatencyDurationCount).toBe(5);
    expect(r.warnings).toEqual([]);
  });
  it('null/undefined override deletes a setting', () => {
    const r = resolveHlsConfig('low', { liveSyncDurationCount: null, liveMaxLatencyDurationCount: undefined });
    expect('liveSyncDurationCount' in r.config).toBe(false);
    expect('liveMaxLatencyDurationCount' in r.config).toBe(false);
  });
  it('duration-form overrides replace the count form', () => {
    const r = resolveHlsConfig('low', { liveSyncDuration: 3, liveMaxLatencyDuration: 8 });
    expect(r.config.liveSyncDuration).toBe(3);
    expect('liveSyncDurationCount' in r.config).toBe(false);
    expect(() => new Hls(r.config).destroy()).not.toThrow();
  });
  it('a max latency count without its sync count is dropped (hls.js would throw)', () => {
    const raw = { ...PROFILES.ll.hls, liveMaxLatencyDurationCount: 4 };
    expect(() => new Hls(raw)).toThrow(/liveMaxLatencyDurationCount/);
    const r = resolveHlsConfig('ll', { liveMaxLatencyDurationCount: 4 });
    expect('liveMaxLatencyDurationCount' in r.config).toBe(false);
    expect(r.warnings.length).toBe(1);
    expect(() => new Hls(r.config).destroy()).not.toThrow();
  });
  it('a max not above the sync count is dropped', () => {
    const r = resolveHlsConfig('low', { liveSyncDurationCount: 4 });
    expect('liveMaxLatencyDurationCount' in r.config).toBe(false);
    expect(() => new Hls(r.config).destroy()).not.toThrow();
  });
  it('unknown profile falls back to the reference with a warning', () => {
    const r = resolveHlsConfig('turbo');
    expect(r.config).toEqual(REFERENCE);
    expect(r.warnings[0]).toMatch(/unknown profile/);
  });
  it('the /api/cameras hls object for ll (server side) resolves to a valid config', () => {
    const r = resolveHlsConfig('ll', { lowLatencyMode: true, liveSyncDurationCount: null, liveMaxLatencyDurationCount: null });
    expect(r.config).toEqual(PROFILES.ll.hls);
  });
});
