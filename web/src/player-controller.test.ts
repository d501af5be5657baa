// The catch-up-to-live rule: where the player jumps once after start-up, and when it does not.

import { describe, expect, it } from 'vitest';
import { liveCatchUpPosition } from './player-controller';

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
