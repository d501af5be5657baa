// The catch-up-to-live rule: where the player jumps once after start-up, and when it does not;
// and the trim that holds an LL target afterwards.

import { describe, expect, it } from 'vitest';
import { baseTargetLatency, liveCatchUpPosition, trimRate, TRIM_RATE } from './player-controller';

function video(currentTime: number, ranges: Array<[number, number]>) {
  return {
    currentTime,
    buffered: {
      length: ranges.length,
      start: (i: number) => ranges[i][0],
      end: (i: number) => ranges[i][1],
    } as TimeRanges,
  };
}

describe('liveCatchUpPosition', () => {
  it('jumps to the live-sync position when it is buffered', () => {
    expect(liveCatchUpPosition(video(10, [[9, 12]]), 11.4, 0.25)).toBe(11.4);
  });

  it('stops 0.1 s short of the buffered end when the sync position lies beyond it', () => {
    expect(liveCatchUpPosition(video(10, [[9, 11]]), 11.6, 0.25)).toBeCloseTo(10.9, 6);
  });

  it('does nothing within the tolerance, ahead of the sync position, or without one', () => {
    expect(liveCatchUpPosition(video(10, [[9, 12]]), 10.2, 0.25)).toBeNull();
    expect(liveCatchUpPosition(video(10, [[9, 12]]), 9.5, 0.25)).toBeNull();
    expect(liveCatchUpPosition(video(10, [[9, 12]]), NaN, 0.25)).toBeNull();
    expect(liveCatchUpPosition(video(10, [[9, 12]]), null, 0.25)).toBeNull();
  });

  it('never seeks into a range that is not the one playing (that would load and stall)', () => {
    expect(liveCatchUpPosition(video(10, [[9, 10.5], [11, 13]]), 12, 0.25)).toBeCloseTo(10.4, 6);
    expect(liveCatchUpPosition(video(10, [[11, 13]]), 12, 0.25)).toBeNull();
    expect(liveCatchUpPosition(video(10, []), 12, 0.25)).toBeNull();
  });

  it('does not jump when clamping leaves less than the tolerance to gain', () => {
    expect(liveCatchUpPosition(video(10, [[9, 10.3]]), 12, 0.25)).toBeNull();
  });
});

describe('baseTargetLatency (hls.js target without its stall allowance)', () => {
  const details = { targetduration: 1, partHoldBack: 0.6, holdBack: 3 };
  it('PART-HOLD-BACK plus one part in low-latency mode without user sync settings (the ll profile)', () => {
    const ll = { targetduration: 1, partHoldBack: 0.4, partTarget: 0.13334, holdBack: 3 };
    expect(baseTargetLatency({ latestLevelDetails: ll, userConfig: {}, config: { lowLatencyMode: true } })).toBeCloseTo(0.53334, 5);
  });
  it('PART-HOLD-BACK alone when the playlist gives no PART-TARGET', () => {
    expect(baseTargetLatency({ latestLevelDetails: details, userConfig: {}, config: { lowLatencyMode: true, liveSyncDurationCount: 3 } })).toBe(0.6);
  });
  it('HOLD-BACK without low-latency mode', () => {
    expect(baseTargetLatency({ latestLevelDetails: details, userConfig: {}, config: { lowLatencyMode: false } })).toBe(3);
  });
  it("the user's liveSyncDurationCount x TARGETDURATION, or liveSyncDuration, first", () => {
    expect(baseTargetLatency({ latestLevelDetails: details, userConfig: { liveSyncDurationCount: 2 }, config: { lowLatencyMode: true } })).toBe(2);
    expect(baseTargetLatency({ latestLevelDetails: details, userConfig: { liveSyncDuration: 1.5 }, config: { lowLatencyMode: true } })).toBe(1.5);
  });
  it("hls.js's default count when the playlist has no hold-back; null before a playlist", () => {
    expect(baseTargetLatency({ latestLevelDetails: { targetduration: 2 }, userConfig: {}, config: { lowLatencyMode: true, liveSyncDurationCount: 3 } })).toBe(6);
    expect(baseTargetLatency({ latestLevelDetails: null, userConfig: {}, config: {} })).toBeNull();
  });
  it('does not change after the player has set hls.targetLatency (which writes config.liveSyncDuration)', () => {
    expect(baseTargetLatency({ latestLevelDetails: details, userConfig: {}, config: { lowLatencyMode: true, liveSyncDuration: 0.6 } })).toBe(0.6);
  });
});

describe('trimRate (holding an LL target that hls.js would not)', () => {
  it('plays faster while more than 0.1 s behind the target with a quarter second buffered', () => {
    expect(trimRate(0.6, 0.4, 0.5, 1)).toBe(TRIM_RATE);
  });
  it('keeps trimming until within 0.03 s of the target, then plays at 1', () => {
    expect(trimRate(0.45, 0.4, 0.4, TRIM_RATE)).toBe(TRIM_RATE);
    expect(trimRate(0.42, 0.4, 0.4, TRIM_RATE)).toBe(1);
  });
  it('does not start a trim within 0.1 s of the target', () => {
    expect(trimRate(0.48, 0.4, 0.4, 1)).toBe(1);
  });
  it('never trims on a thin buffer: that would stall', () => {
    expect(trimRate(0.9, 0.4, 0.2, 1)).toBe(1);
    expect(trimRate(0.9, 0.4, 0.2, TRIM_RATE)).toBe(1);
  });
  it('plays at 1 without a target or a latency', () => {
    expect(trimRate(0.9, null, 1, TRIM_RATE)).toBe(1);
    expect(trimRate(NaN, 0.4, 1, TRIM_RATE)).toBe(1);
  });
});
