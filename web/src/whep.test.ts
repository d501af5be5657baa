// The WHEP client against a fake RTCPeerConnection and fetch: what it sends, when, and how
// each way of failing is reported.  (Real WebRTC is tested in Chromium: e2e/run.mjs.)

import { describe, expect, it, vi } from 'vitest';
import { NTP_UNIX_OFFSET_MS, setLowJitterBuffer, webrtcVideoStats, whepConnect, WhepError } from './whep';

type Behaviour = 'connect' | 'ice-fail' | 'dtls-fail' | 'hang';

function makePC(behaviour: Behaviour, { gatherMs = 10, gatherNever = false } = {}) {
  const made: FakePC[] = [];
  class FakePC extends EventTarget {
    config: RTCConfiguration | undefined;
    transceivers: Array<{ kind: string; init: RTCRtpTransceiverInit }> = [];
    receivers: Array<Record<string, unknown>> = [];
    localDescription: RTCSessionDescriptionInit | null = null;
    remoteDescription: RTCSessionDescriptionInit | null = null;
    iceGatheringState: RTCIceGatheringState = 'new';
    iceConnectionState: RTCIceConnectionState = 'new';
    connectionState: RTCPeerConnectionState = 'new';
    closed = false;
    constructor(config?: RTCConfiguration) {
      super();
      this.config = config;
      made.push(this);
    }
    addTransceiver(kind: string, init: RTCRtpTransceiverInit) {
      this.transceivers.push({ kind, init });
      this.receivers.push({ track: { kind }, jitterBufferTarget: null });
    }
    getReceivers() {
      return this.receivers;
    }
    async createOffer() {
      return { type: 'offer', sdp: 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n' };
    }
    async setLocalDescription(d: RTCSessionDescriptionInit) {
      this.localDescription = { ...d };
      this.iceGatheringState = 'gathering';
      if (gatherNever) return;
      setTimeout(() => {
        this.localDescription = { ...d, sdp: `${d.sdp}a=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n` };
        this.iceGatheringState = 'complete';
        this.dispatchEvent(new Event('icegatheringstatechange'));
      }, gatherMs);
    }
    async setRemoteDescription(d: RTCSessionDescriptionInit) {
      this.remoteDescription = d;
      const set = (ice: RTCIceConnectionState, pc: RTCPeerConnectionState) => {
        this.iceConnectionState = ice;
        this.connectionState = pc;
        this.dispatchEvent(new Event('iceconnectionstatechange'));
        this.dispatchEvent(new Event('connectionstatechange'));
      };
      setTimeout(() => set('checking', 'connecting'), 5);
      if (behaviour === 'connect') setTimeout(() => set('connected', 'connected'), 15);
      if (behaviour === 'ice-fail') setTimeout(() => set('failed', 'failed'), 15);
      if (behaviour === 'dtls-fail') setTimeout(() => set('connected', 'failed'), 15);
    }
    close() {
      this.closed = true;
      this.connectionState = 'closed';
    }
  }
  return { PC: FakePC as unknown as new (c?: RTCConfiguration) => RTCPeerConnection, made };
}

function makeFetch(post: { status: number; headers?: Record<string, string>; body?: string }) {
  const calls: Array<{ url: string; init: RequestInit; at: number }> = [];
  const fn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, init, at: Date.now() });
    if (init.method === 'DELETE') return new Response(null, { status: 200 });
    return new Response(post.body ?? null, { status: post.status, headers: post.headers });
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

const ANSWER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\na=ice-lite\r\n';

describe('whepConnect', () => {
  it('POSTs the complete offer as application/sdp with the token, applies the answer, sets a low jitter buffer, DELETEs once on close', async () => {
    const { PC, made } = makePC('connect');
    const f = makeFetch({ status: 201, headers: { Location: 'session/abc', 'Content-Type': 'application/sdp' }, body: ANSWER });
    const s = await whepConnect('http://box:8080/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch, token: 'tok', jitterBufferTargetMs: 20 });
    const pc = made[0] as unknown as { transceivers: Array<{ kind: string; init: RTCRtpTransceiverInit }>; receivers: Array<Record<string, unknown>>; remoteDescription: RTCSessionDescriptionInit; closed: boolean };
    expect(pc.transceivers).toEqual([
      { kind: 'video', init: { direction: 'recvonly' } },
      { kind: 'audio', init: { direction: 'recvonly' } },
    ]);
    expect(f.calls).toHaveLength(1);
    const post = f.calls[0];
    expect(post.url).toBe('http://box:8080/whep/cam');
    expect(post.init.method).toBe('POST');
    expect(post.init.headers).toMatchObject({ 'Content-Type': 'application/sdp', Authorization: 'Bearer tok' });
    // Sent only after gathering completed: the candidate is in the body (ICE-lite server, no trickle).
    expect(String(post.init.body)).toContain('a=candidate:1 1 udp');
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: ANSWER });
    expect(pc.receivers.map((r) => r.jitterBufferTarget)).toEqual([20, 20]);
    expect(s.location).toBe('http://box:8080/whep/session/abc');
    expect(s.tracks.map((t) => t.kind)).toEqual(['video', 'audio']);
    await s.close();
    await s.close();
    expect(pc.closed).toBe(true);
    const deletes = f.calls.filter((c) => c.init.method === 'DELETE');
    expect(deletes).toHaveLength(1);
    expect(deletes[0].url).toBe('http://box:8080/whep/session/abc');
    expect(deletes[0].init.headers).toMatchObject({ Authorization: 'Bearer tok' });
  });

  it('sends no Authorization without a token', async () => {
    const { PC } = makePC('connect');
    const f = makeFetch({ status: 201, headers: { Location: '/whep/cam/1' }, body: ANSWER });
    await whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch });
    expect(f.calls[0].init.headers).not.toHaveProperty('Authorization');
  });

  it('an HTTP error is kind "http" with its status (404: the origin has no WHEP for this camera), and closes the peer connection', async () => {
    const { PC, made } = makePC('connect');
    const f = makeFetch({ status: 404, body: 'no such camera' });
    const err = await whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhepError);
    expect(err).toMatchObject({ kind: 'http', status: 404 });
    expect((made[0] as unknown as { closed: boolean }).closed).toBe(true);
    expect(f.calls.filter((c) => c.init.method === 'DELETE')).toHaveLength(0);
  });

  it('503 / 409 carry Retry-After', async () => {
    const { PC } = makePC('connect');
    const f = makeFetch({ status: 503, headers: { 'Retry-After': '30' } });
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch })).rejects.toMatchObject({ kind: 'http', status: 503, retryAfterS: 30 });
  });

  it('ICE failing is kind "ice", and the session is DELETEd', async () => {
    const { PC } = makePC('ice-fail');
    const f = makeFetch({ status: 201, headers: { Location: '/whep/cam/s1' }, body: ANSWER });
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch })).rejects.toMatchObject({ kind: 'ice' });
    expect(f.calls.filter((c) => c.init.method === 'DELETE').map((c) => c.url)).toEqual(['http://box/whep/cam/s1']);
  });

  it('ICE up but the connection failing is kind "dtls"', async () => {
    const { PC } = makePC('dtls-fail');
    const f = makeFetch({ status: 201, headers: { Location: '/s' }, body: ANSWER });
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch })).rejects.toMatchObject({ kind: 'dtls' });
  });

  it('not connected within connectTimeoutMs of the call is kind "timeout"', async () => {
    const { PC } = makePC('hang');
    const f = makeFetch({ status: 201, headers: { Location: '/s' }, body: ANSWER });
    const t0 = Date.now();
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch, connectTimeoutMs: 150 })).rejects.toMatchObject({ kind: 'timeout' });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1000);
  });

  it('POSTs what it has when gathering does not complete within gatherTimeoutMs', async () => {
    const { PC } = makePC('connect', { gatherNever: true });
    const f = makeFetch({ status: 201, headers: { Location: '/s' }, body: ANSWER });
    const t0 = Date.now();
    await whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch, gatherTimeoutMs: 80 });
    expect(f.calls[0].at - t0).toBeGreaterThanOrEqual(70);
  });

  it('an answer that is not SDP is refused', async () => {
    const { PC } = makePC('connect');
    const f = makeFetch({ status: 201, headers: { Location: '/s' }, body: '<html>' });
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: f.fetch })).rejects.toMatchObject({ kind: 'sdp' });
  });

  it('without RTCPeerConnection it says so (the player then falls back)', async () => {
    const orig = (globalThis as Record<string, unknown>).RTCPeerConnection;
    delete (globalThis as Record<string, unknown>).RTCPeerConnection;
    try {
      await expect(whepConnect('http://box/whep/cam', {})).rejects.toMatchObject({ kind: 'unsupported' });
    } finally {
      if (orig) (globalThis as Record<string, unknown>).RTCPeerConnection = orig;
    }
  });

  it('a network error on POST is kind "network"; an abort is kind "aborted"', async () => {
    const { PC } = makePC('connect');
    const bad = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: bad })).rejects.toMatchObject({ kind: 'network' });
    const a = new AbortController();
    a.abort();
    await expect(whepConnect('http://box/whep/cam', { RTCPeerConnection: PC, fetch: bad, signal: a.signal })).rejects.toMatchObject({ kind: 'aborted' });
  });
});

describe('setLowJitterBuffer', () => {
  it('uses jitterBufferTarget (ms), else Chrome\'s playoutDelayHint (s)', () => {
    const a = { jitterBufferTarget: null as number | null };
    const b = { playoutDelayHint: null as number | null };
    const c = {};
    const pc = { getReceivers: () => [a, b, c] } as unknown as RTCPeerConnection;
    expect(setLowJitterBuffer(pc, 50)).toBe(2);
    expect(a.jitterBufferTarget).toBe(50);
    expect(b.playoutDelayHint).toBe(0.05);
  });
});

describe('webrtcVideoStats', () => {
  const now = Date.parse('2026-12-03T08:00:00.000Z');
  const report = (extra: Record<string, unknown>) =>
    new Map<string, Record<string, unknown>>([
      ['v', { type: 'inbound-rtp', kind: 'video', framesDecoded: 300, framesDropped: 2, packetsReceived: 900, packetsLost: 1, bytesReceived: 1e6, jitterBufferDelay: 6, jitterBufferEmittedCount: 300, ...extra }],
      ['a', { type: 'inbound-rtp', kind: 'audio', packetsReceived: 500 }],
      ['c', { type: 'candidate-pair', state: 'succeeded' }],
    ]);

  it('latency = now - estimatedPlayoutTimestamp (the sender NTP time of the frame playing out)', () => {
    const ept = now + NTP_UNIX_OFFSET_MS - 230;
    const s = webrtcVideoStats(report({ estimatedPlayoutTimestamp: ept }), now);
    expect(s.latencyMs).toBe(230);
    expect(s.latencySource).toBe('estimatedPlayoutTimestamp');
    expect(s).toMatchObject({ framesDecoded: 300, framesDropped: 2, packetsReceived: 900, audioPacketsReceived: 500 });
    expect(s.jitterBufferMs).toBeCloseTo(20, 6);
  });

  it('no figure before the first sender report, or from a clock far off ours', () => {
    expect(webrtcVideoStats(report({}), now).latencyMs).toBeNull();
    expect(webrtcVideoStats(report({ estimatedPlayoutTimestamp: 0 }), now).latencyMs).toBeNull();
    expect(webrtcVideoStats(report({ estimatedPlayoutTimestamp: now + NTP_UNIX_OFFSET_MS - 3_600_000 }), now).latencyMs).toBeNull();
  });
});
