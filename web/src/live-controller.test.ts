// LiveController: the fallback ladder carried out with fake WHEP sessions and fake timers.
// When it falls back, how fast, when it moves back up, and what WebRTC loss looks like.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveController, OFFLINE_AFTER_MS, whepEndpointFor } from './live-controller';
import { NTP_UNIX_OFFSET_MS, WhepError, type WhepOptions, type WhepSession } from './whep';
import type { Protocol } from './protocol';

interface Fake {
  session: WhepSession;
  frames: number;
  packets: number;
  opts: WhepOptions | null;
  setState(s: RTCPeerConnectionState): void;
}

function fakeSession(): Fake {
  const pc = new EventTarget() as EventTarget & Record<string, unknown>;
  pc.connectionState = 'connected';
  pc.iceConnectionState = 'connected';
  const f: Fake = {
    frames: 0,
    packets: 0,
    opts: null,
    session: null as unknown as WhepSession,
    setState(s) {
      pc.connectionState = s;
      f.opts?.onConnectionState?.(s);
      pc.dispatchEvent(new Event('connectionstatechange'));
    },
  };
  pc.getStats = async () =>
    new Map([['v', { type: 'inbound-rtp', kind: 'video', framesDecoded: f.frames, packetsReceived: f.packets, bytesReceived: f.frames * 1000, estimatedPlayoutTimestamp: Date.now() + NTP_UNIX_OFFSET_MS - 240 }]]);
  const session = {
    pc: pc as unknown as RTCPeerConnection,
    location: '/whep/cam/s',
    tracks: [],
    stream: {} as MediaStream,
    closed: false,
    close: vi.fn(async () => {
      session.closed = true;
    }),
  };
  f.session = session;
  return f;
}

type Step = { fail: WhepError } | { ok: Fake } | { hang: true };

function harness(steps: Step[], choice: 'auto' | 'webrtc' = 'auto', whepUrl: string | null = 'http://box/whep/cam') {
  const active: Array<[Protocol, number]> = [];
  const phases: string[] = [];
  const stats: Array<{ protocol: string | null; latencyMs: number | null; phase: string }> = [];
  const calls: number[] = [];
  const t0 = Date.now();
  const connect = vi.fn((_url: string, opts: WhepOptions): Promise<WhepSession> => {
    calls.push(Date.now() - t0);
    const step = steps.shift() ?? { fail: new WhepError('http', 'HTTP 404', 404) };
    if ('fail' in step) return Promise.reject(step.fail);
    if ('hang' in step) return new Promise(() => {});
    step.ok.opts = opts;
    return Promise.resolve(step.ok.session);
  });
  const c = new LiveController({
    choice,
    whepUrl,
    connect,
    onActive: (p) => active.push([p, Date.now() - t0]),
    onPhase: (p) => phases.push(p),
    onStats: (s) => stats.push({ protocol: s.protocol, latencyMs: s.latencyMs, phase: s.phase }),
  });
  return { c, active, phases, stats, calls, connect };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-12-03T08:00:00.000Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LiveController, protocol auto', () => {
  it('WHEP answering 404 falls back to LL-HLS at once, then tries WebRTC again after 5, 10, 20 s', async () => {
    const h = harness([]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.active).toEqual([
      ['webrtc', 0],
      ['ll-hls', 0],
    ]);
    await vi.advanceTimersByTimeAsync(36000);
    expect(h.calls).toEqual([0, 5000, 15000, 35000]);
    expect(h.active).toHaveLength(2);
    h.c.destroy();
  });

  it('a WHEP POST that never answers falls back within 4.25 s', async () => {
    const h = harness([{ hang: true }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(3999);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc']);
    await vi.advanceTimersByTimeAsync(260);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls']);
    expect(h.active[1][1]).toBeLessThanOrEqual(4250);
    h.c.destroy();
  });

  it('connected but no video frame within 4 s falls back, and the session is closed', async () => {
    const f = fakeSession();
    const h = harness([{ ok: f }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(4200);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls']);
    expect(f.session.close).toHaveBeenCalled();
    h.c.destroy();
  });

  it('plays WebRTC when frames come, reporting protocol and latency from estimatedPlayoutTimestamp', async () => {
    const f = fakeSession();
    f.frames = 1;
    f.packets = 5;
    const h = harness([{ ok: f }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(0);
    f.frames = 15;
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc']);
    expect(h.phases).toContain('live');
    const last = h.stats.at(-1)!;
    expect(last).toMatchObject({ protocol: 'webrtc', phase: 'live', latencyMs: 240 });
    h.c.destroy();
    expect(f.session.close).toHaveBeenCalled();
  });

  it('WebRTC lost (connection failed) falls back at once and moves back up when a probe delivers video', async () => {
    const first = fakeSession();
    first.frames = 1;
    const probe = fakeSession();
    probe.packets = 3;
    probe.frames = 1;
    const h = harness([{ ok: first }, { fail: new WhepError('http', 'HTTP 409', 409) }, { ok: probe }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(100);
    first.setState('failed');
    await vi.advanceTimersByTimeAsync(0);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls']);
    expect(first.session.close).toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(5000); // probe 1: 409
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls']);
    await vi.advanceTimersByTimeAsync(10000); // probe 2: connects, video arrives
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls', 'webrtc']);
    expect(h.connect).toHaveBeenCalledTimes(3); // the probe's session is adopted, not made again
    expect(probe.session.close).not.toHaveBeenCalled();
    expect(h.c.webrtcSession).toBe(probe.session);
    h.c.destroy();
  });

  it('disconnected for 3 s is lost; disconnected and back within 3 s is not', async () => {
    const a = fakeSession();
    a.frames = 1;
    const h = harness([{ ok: a }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(100);
    a.setState('disconnected');
    await vi.advanceTimersByTimeAsync(2000);
    a.setState('connected');
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.active.map((x) => x[0])).toEqual(['webrtc']);
    a.setState('disconnected');
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.active.map((x) => x[0])).toEqual(['webrtc', 'll-hls']);
    h.c.destroy();
  });

  it('a camera that stops sending shows offline after 5 s but keeps the session; frames bring it back', async () => {
    const a = fakeSession();
    a.frames = 1;
    const h = harness([{ ok: a }]);
    h.c.start();
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(OFFLINE_AFTER_MS + 1000);
    expect(h.phases).toContain('stalled');
    expect(h.phases.at(-1)).toBe('offline');
    expect(a.session.close).not.toHaveBeenCalled();
    a.frames = 40;
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.phases.at(-1)).toBe('live');
    expect(h.active.map((x) => x[0])).toEqual(['webrtc']);
    h.c.destroy();
  });

  it('no WHEP endpoint (not an edgestream playlist): LL-HLS at once', async () => {
    const h = harness([], 'auto', null);
    h.c.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.active.map((a) => a[0])).toEqual(['webrtc', 'll-hls']);
    expect(h.connect).not.toHaveBeenCalled();
    h.c.destroy();
  });
});

describe('LiveController and the page lifecycle', () => {
  it('pagehide ends the WebRTC session (its DELETE goes out with keepalive)', async () => {
    const listeners = new Map<string, EventListener>();
    vi.stubGlobal('window', {
      addEventListener: (t: string, fn: EventListener) => listeners.set(t, fn),
      removeEventListener: (t: string) => listeners.delete(t),
    });
    try {
      const a = fakeSession();
      a.frames = 1;
      const h = harness([{ ok: a }]);
      h.c.start();
      await vi.advanceTimersByTimeAsync(100);
      expect(h.c.webrtcSession).toBe(a.session);
      listeners.get('pagehide')!(new Event('pagehide'));
      expect(a.session.close).toHaveBeenCalled();
      h.c.destroy();
      expect(listeners.size).toBe(0);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('LiveController, protocol webrtc', () => {
  it('retries WebRTC with backoff and never plays HLS', async () => {
    const f = fakeSession();
    f.frames = 1;
    const h = harness([{ fail: new WhepError('ice', 'ICE failed') }, { fail: new WhepError('ice', 'ICE failed') }, { ok: f }], 'webrtc');
    h.c.start();
    await vi.advanceTimersByTimeAsync(16000);
    expect(h.calls).toEqual([0, 5000, 15000]);
    expect(h.active.every((a) => a[0] === 'webrtc')).toBe(true);
    expect(h.phases.at(-1)).toBe('live');
    h.c.destroy();
  });
});

describe('whepEndpointFor', () => {
  it('maps the origin playlist URL to /whep/<camera>, carrying ?token= as the bearer token', () => {
    expect(whepEndpointFor('/live/cam_floor/stream.m3u8', 'http://box:8080/')).toEqual({ url: 'http://box:8080/whep/cam_floor', token: null });
    expect(whepEndpointFor('http://box:8080/ui/live/cam_door/stream.m3u8?token=s3cret', 'http://x/')).toEqual({ url: 'http://box:8080/ui/whep/cam_door', token: 's3cret' });
  });

  it('is null for other URLs (Supabase Storage, S3)', () => {
    expect(whepEndpointFor('https://x.supabase.co/storage/v1/object/public/streams/location_1/cam/stream.m3u8')).toBeNull();
  });
});
