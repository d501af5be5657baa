// The protocol ladder: every transition of reduceLadder.

import { describe, expect, it } from 'vitest';
import { DEFAULT_LADDER_OPTIONS, initialLadderState, isProtocolChoice, ladderFor, probeDelay, reduceLadder, type LadderState } from './protocol';

const start = (choice: Parameters<typeof initialLadderState>[0]) => reduceLadder(initialLadderState(choice), { type: 'start' });

describe('ladder', () => {
  it('auto is WebRTC then LL-HLS (which plays classic HLS in place for a classic playlist)', () => {
    expect(ladderFor('auto')).toEqual(['webrtc', 'll-hls']);
    expect(ladderFor('hls')).toEqual(['hls']);
    expect(isProtocolChoice('auto') && isProtocolChoice('ll-hls') && !isProtocolChoice('rtmp')).toBe(true);
  });

  it('starts on the top rung', () => {
    const { state, actions } = start('auto');
    expect(state.active).toBe('webrtc');
    expect(actions).toEqual([{ type: 'play', protocol: 'webrtc' }]);
    expect(start('ll-hls').actions).toEqual([{ type: 'play', protocol: 'll-hls' }]);
  });

  it('a failed WebRTC attempt plays LL-HLS at once and schedules a probe of WebRTC', () => {
    const s = start('auto').state;
    const r = reduceLadder(s, { type: 'failed', protocol: 'webrtc', reason: 'HTTP 404' });
    expect(r.state).toMatchObject({ active: 'll-hls', pending: true, reason: 'HTTP 404' });
    expect(r.actions).toEqual([
      { type: 'play', protocol: 'll-hls' },
      { type: 'probe', protocol: 'webrtc', delayMs: DEFAULT_LADDER_OPTIONS.probeBaseDelayMs },
    ]);
  });

  it('a Retry-After longer than the backoff is honoured', () => {
    const s = start('auto').state;
    const r = reduceLadder(s, { type: 'failed', protocol: 'webrtc', reason: '503', retryAfterMs: 30000 });
    expect(r.actions[1]).toEqual({ type: 'probe', protocol: 'webrtc', delayMs: 30000 });
  });

  it('failed probes back off 5, 10, 20, 40, 60, 60 s', () => {
    let s: LadderState = reduceLadder(start('auto').state, { type: 'failed', protocol: 'webrtc', reason: 'x' }).state;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = reduceLadder(s, { type: 'probeResult', protocol: 'webrtc', ok: false, reason: 'still 404' });
      s = r.state;
      expect(r.actions).toHaveLength(1);
      delays.push((r.actions[0] as { delayMs: number }).delayMs);
    }
    expect(delays).toEqual([10000, 20000, 40000, 60000, 60000]);
    expect(probeDelay(0)).toBe(5000);
    expect(s.active).toBe('ll-hls');
  });

  it('a good probe moves back up, adopting the probe session, and resets the backoff', () => {
    let s = reduceLadder(start('auto').state, { type: 'failed', protocol: 'webrtc', reason: 'x' }).state;
    s = reduceLadder(s, { type: 'probeResult', protocol: 'webrtc', ok: false }).state;
    const r = reduceLadder(s, { type: 'probeResult', protocol: 'webrtc', ok: true });
    expect(r.state).toMatchObject({ active: 'webrtc', attempt: 0, pending: false, reason: null });
    expect(r.actions).toEqual([{ type: 'play', protocol: 'webrtc', adopt: true }]);
  });

  it('WebRTC lost while playing falls back again, with one probe pending at a time', () => {
    let s = start('auto').state;
    s = reduceLadder(s, { type: 'playing', protocol: 'webrtc' }).state;
    const r = reduceLadder(s, { type: 'failed', protocol: 'webrtc', reason: 'connection failed' });
    expect(r.state.active).toBe('ll-hls');
    expect(r.actions.map((a) => a.type)).toEqual(['play', 'probe']);
    // A second failure report for a rung no longer playing changes nothing.
    expect(reduceLadder(r.state, { type: 'failed', protocol: 'webrtc', reason: 'late' })).toEqual({ state: r.state, actions: [] });
  });

  it('HLS failing on the last rung is left to HLSPlayer (it retries and polls by itself)', () => {
    const s = reduceLadder(start('auto').state, { type: 'failed', protocol: 'webrtc', reason: 'x' }).state;
    const r = reduceLadder(s, { type: 'failed', protocol: 'll-hls', reason: 'offline' });
    expect(r.actions).toEqual([]);
    expect(r.state.active).toBe('ll-hls');
  });

  it('protocol webrtc alone retries WebRTC with backoff and never falls back', () => {
    let s = start('webrtc').state;
    let r = reduceLadder(s, { type: 'failed', protocol: 'webrtc', reason: 'ICE failed' });
    expect(r.actions).toEqual([{ type: 'retry', protocol: 'webrtc', delayMs: 5000 }]);
    s = r.state;
    r = reduceLadder(s, { type: 'retryDue', protocol: 'webrtc' });
    expect(r.actions).toEqual([{ type: 'play', protocol: 'webrtc' }]);
    r = reduceLadder(r.state, { type: 'failed', protocol: 'webrtc', reason: 'ICE failed' });
    expect(r.actions).toEqual([{ type: 'retry', protocol: 'webrtc', delayMs: 10000 }]);
    expect(r.state.active).toBe('webrtc');
  });

  it('a probe result nobody waits for is ignored', () => {
    const s = start('auto').state;
    expect(reduceLadder(s, { type: 'probeResult', protocol: 'webrtc', ok: true })).toEqual({ state: s, actions: [] });
  });
});
