// @vitest-environment jsdom
// HLSPlayer's lifecycle against a fake hls.js: what it constructs, what it destroys, and that
// recovery actions reach hls.js.  (Real playback is tested in Chromium: e2e/run.mjs.)

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render } from '@testing-library/react';
import { createRef } from 'react';

const fake = vi.hoisted(() => {
  type Handler = (event: string, data: unknown) => void;
  const instances: FakeHls[] = [];
  let supported = true;
  class FakeHls {
    static Events = {
      MANIFEST_PARSED: 'hlsManifestParsed',
      LEVEL_LOADED: 'hlsLevelLoaded',
      FRAG_LOADED: 'hlsFragLoaded',
      FRAG_BUFFERED: 'hlsFragBuffered',
      ERROR: 'hlsError',
    };
    static ErrorTypes = { NETWORK_ERROR: 'networkError', MEDIA_ERROR: 'mediaError', OTHER_ERROR: 'otherError' };
    static ErrorDetails = { BUFFER_STALLED_ERROR: 'bufferStalledError' };
    static isSupported() {
      return supported;
    }
    config: Record<string, unknown>;
    handlers = new Map<string, Handler[]>();
    destroyed = false;
    media: HTMLMediaElement | null = null;
    playingDate: Date | null = null;
    latency = NaN;
    targetLatency: number | null = null;
    bandwidthEstimate = NaN;
    userConfig: Record<string, unknown>;
    latestLevelDetails: Record<string, unknown> | null = null;
    liveSyncPosition: number | null = null;
    attachMedia = vi.fn((m: HTMLMediaElement) => {
      this.media = m;
    });
    loadSource = vi.fn();
    startLoad = vi.fn();
    recoverMediaError = vi.fn();
    swapAudioCodec = vi.fn();
    destroy = vi.fn(() => {
      this.destroyed = true;
      this.handlers.clear();
      this.media = null;
    });
    constructor(config: Record<string, unknown>) {
      this.config = config;
      this.userConfig = config;
      instances.push(this);
    }
    on(e: string, fn: Handler) {
      this.handlers.set(e, [...(this.handlers.get(e) ?? []), fn]);
    }
    off(e: string, fn: Handler) {
      this.handlers.set(e, (this.handlers.get(e) ?? []).filter((f) => f !== fn));
    }
    emit(e: string, data: unknown) {
      for (const fn of this.handlers.get(e) ?? []) fn(e, data);
    }
    listenerCount() {
      let n = 0;
      for (const l of this.handlers.values()) n += l.length;
      return n;
    }
  }
  return {
    FakeHls,
    instances,
    setSupported(v: boolean) {
      supported = v;
    },
  };
});

vi.mock('hls.js', () => ({ default: fake.FakeHls }));

import { HLSPlayer, type HLSPlayerHandle, type PlayerStats } from './HLSPlayer';
import { LivePlayer, type LivePlayerHandle } from './LivePlayer';
import { CameraTile } from './CameraTile';
import { PROFILES, REFERENCE_HLS_CONFIG } from './profiles';

const levelLoaded = (endSN: number, targetduration = 1) => ({ details: { endSN, targetduration, partList: null } });

let addSpy: ReturnType<typeof vi.spyOn>;
let removeSpy: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-11-24T14:35:00.000Z'));
  fake.instances.length = 0;
  fake.setSupported(true);
  Object.defineProperty(HTMLMediaElement.prototype, 'load', { configurable: true, value: vi.fn() });
  Object.defineProperty(HTMLMediaElement.prototype, 'play', { configurable: true, value: vi.fn(() => Promise.resolve()) });
  Object.defineProperty(HTMLMediaElement.prototype, 'canPlayType', { configurable: true, value: vi.fn(() => '') });
  addSpy = vi.spyOn(HTMLMediaElement.prototype, 'addEventListener');
  removeSpy = vi.spyOn(HTMLMediaElement.prototype, 'removeEventListener');
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** Make the <video> look like it is playing at time t. */
function setPlaying(video: HTMLVideoElement, t: number) {
  Object.defineProperty(video, 'currentTime', { configurable: true, get: () => t, set: () => {} });
  Object.defineProperty(video, 'paused', { configurable: true, get: () => false });
}

describe('HLSPlayer lifecycle', () => {
  it('defaults to the reference config (plus the worker script) and loads the source', () => {
    render(<HLSPlayer src="/live/cam/stream.m3u8" />);
    expect(fake.instances).toHaveLength(1);
    const h = fake.instances[0];
    const { workerPath, ...cfg } = h.config;
    expect(cfg).toEqual({ ...REFERENCE_HLS_CONFIG });
    expect(typeof workerPath).toBe('string');
    expect(h.attachMedia).toHaveBeenCalledTimes(1);
    expect(h.loadSource).toHaveBeenCalledWith('/live/cam/stream.m3u8');
  });

  it('a profile selects its row; ll passes no liveSyncDurationCount', () => {
    render(<HLSPlayer src="/a.m3u8" profile="ll" />);
    const cfg = fake.instances[0].config;
    expect('liveSyncDurationCount' in cfg).toBe(false);
    expect(cfg.lowLatencyMode).toBe(true);
    expect(cfg.maxLiveSyncPlaybackRate).toBe(PROFILES.ll.hls.maxLiveSyncPlaybackRate);
  });

  it('changing profile or src replaces the hls.js instance; re-rendering with new callbacks does not', () => {
    const { rerender } = render(<HLSPlayer src="/a.m3u8" profile="low" onStats={() => {}} />);
    rerender(<HLSPlayer src="/a.m3u8" profile="low" onStats={() => {}} hlsConfig={{}} />);
    expect(fake.instances).toHaveLength(1);
    rerender(<HLSPlayer src="/a.m3u8" profile="stable" />);
    expect(fake.instances).toHaveLength(2);
    expect(fake.instances[0].destroy).toHaveBeenCalledTimes(1);
    expect(fake.instances[1].config.liveSyncDurationCount).toBe(4);
    rerender(<HLSPlayer src="/b.m3u8" profile="stable" />);
    expect(fake.instances).toHaveLength(3);
    expect(fake.instances[1].destroy).toHaveBeenCalledTimes(1);
  });

  it('unmount destroys hls.js and leaves no timer or listener behind', () => {
    const onHls = vi.fn();
    const { unmount } = render(<HLSPlayer src="/a.m3u8" onHls={onHls} />);
    const h = fake.instances[0];
    expect(vi.getTimerCount()).toBeGreaterThan(0); // the stats interval
    expect(h.listenerCount()).toBeGreaterThan(0);
    unmount();
    expect(h.destroy).toHaveBeenCalledTimes(1);
    expect(h.listenerCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(onHls).toHaveBeenLastCalledWith(null);
    // React itself puts (and leaves) listeners on a <video>; everything beyond those must be gone.
    const leftOnPlayer = addSpy.mock.calls.length - removeSpy.mock.calls.length;
    addSpy.mockClear();
    removeSpy.mockClear();
    render(<video />).unmount();
    const leftOnPlainVideo = addSpy.mock.calls.length - removeSpy.mock.calls.length;
    expect(leftOnPlayer).toBe(leftOnPlainVideo);
  });

  it('unmount during a pending retry and an offline poll cancels both', async () => {
    const fetchMock = vi.fn(() => new Promise<Response>(() => {}));
    vi.stubGlobal('fetch', fetchMock);
    const { unmount } = render(<HLSPlayer src="/a.m3u8" />);
    act(() => fake.instances[0].emit('hlsError', { type: 'networkError', details: 'manifestLoadError', fatal: true }));
    expect(vi.getTimerCount()).toBe(2); // stats + retry
    unmount();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('hls.js errors drive recovery: network retry with backoff, media recovery, swap codec', () => {
    const phases: string[] = [];
    render(<HLSPlayer src="/a.m3u8" onStateChange={(p) => phases.push(p)} />);
    const h = fake.instances[0];
    act(() => h.emit('hlsManifestParsed', {}));
    act(() => h.emit('hlsError', { type: 'networkError', details: 'fragLoadError', fatal: true }));
    expect(h.startLoad).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(1000));
    expect(h.startLoad).toHaveBeenCalledWith(-1);
    act(() => h.emit('hlsError', { type: 'networkError', details: 'fragLoadError', fatal: true }));
    act(() => vi.advanceTimersByTime(1999));
    expect(h.startLoad).toHaveBeenCalledTimes(1);
    act(() => vi.advanceTimersByTime(1));
    expect(h.startLoad).toHaveBeenCalledTimes(2);
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferAppendError', fatal: true }));
    expect(h.recoverMediaError).toHaveBeenCalledTimes(1);
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferAppendError', fatal: true }));
    expect(h.swapAudioCodec).toHaveBeenCalledTimes(1);
    expect(h.recoverMediaError).toHaveBeenCalledTimes(2);
    // non-fatal errors are hls.js's own business
    act(() => h.emit('hlsError', { type: 'networkError', details: 'levelLoadTimeOut', fatal: false }));
    expect(phases).toContain('recovering');
  });

  it('a playlist that stops advancing goes offline, polls, and resumes when it advances', async () => {
    let seq = 10;
    const playlist = () =>
      `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:${seq}\n#EXTINF:1.0,\ns${seq}.ts\n#EXTINF:1.0,\ns${seq + 1}.ts\n`;
    const fetchMock = vi.fn(async () => new Response(playlist(), { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    const phases: string[] = [];
    const ref = createRef<HLSPlayerHandle>();
    render(<HLSPlayer ref={ref} src="/a.m3u8" onStateChange={(p) => phases.push(p)} />);
    const video = ref.current!.video!;
    const h = fake.instances[0];
    act(() => h.emit('hlsLevelLoaded', levelLoaded(11)));
    setPlaying(video, 1);
    act(() => vi.advanceTimersByTime(1000));
    setPlaying(video, 2);
    act(() => vi.advanceTimersByTime(1000));
    expect(phases.at(-1)).toBe('live');
    act(() => h.emit('hlsLevelLoaded', levelLoaded(12)));
    // Playlist keeps returning the same version: after 3 x TARGETDURATION (min 4 s) -> offline.
    for (let i = 0; i < 4; i++) {
      act(() => h.emit('hlsLevelLoaded', levelLoaded(12)));
      act(() => vi.advanceTimersByTime(1000));
    }
    expect(phases.at(-1)).toBe('live');
    act(() => vi.advanceTimersByTime(1000));
    expect(phases.at(-1)).toBe('offline');
    expect(h.destroy).toHaveBeenCalledTimes(1);
    // First poll records the stale playlist, second sees no change.
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1000);
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2000);
    });
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(fake.instances).toHaveLength(1);
    // Camera returns.
    seq = 12;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(4010);
    });
    expect(fetchMock).toHaveBeenCalledTimes(3);
    expect(fake.instances).toHaveLength(2);
    expect(phases.at(-1)).toBe('connecting');
    expect(fake.instances[1].loadSource).toHaveBeenCalledWith('/a.m3u8');
  });

  it('reports stats: latency = now - playingDate, stalls, buffer, bitrate', () => {
    const stats: PlayerStats[] = [];
    const ref = createRef<HLSPlayerHandle>();
    render(<HLSPlayer ref={ref} src="/a.m3u8" onStats={(s) => stats.push(s)} statsIntervalMs={500} />);
    const h = fake.instances[0];
    const video = ref.current!.video!;
    h.playingDate = new Date(Date.now() - 2500);
    h.latency = 2.1;
    h.targetLatency = 2;
    act(() => h.emit('hlsFragLoaded', { frag: { duration: 1, stats: { loaded: 125000 } }, part: null, payload: new ArrayBuffer(0) }));
    setPlaying(video, 1);
    act(() => vi.advanceTimersByTime(500));
    setPlaying(video, 1.5);
    act(() => vi.advanceTimersByTime(500));
    expect(stats.at(-1)!.phase).toBe('live');
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferStalledError', fatal: false }));
    act(() => vi.advanceTimersByTime(500));
    const s = stats.at(-1)!;
    expect(stats.length).toBe(3);
    expect(s.phase).toBe('stalled');
    expect(s.at).toBe(Date.now());
    expect(s.latencyMs).toBe(4000); // the fake playingDate stood still for 1.5 s
    expect(s.latencyMs).toBe(s.at - h.playingDate.getTime());
    expect(s.playingDate).toBe(h.playingDate.toISOString());
    expect(s.edgeLatencyS).toBe(2.1);
    expect(s.targetLatencyS).toBe(2);
    expect(s.bitrateBps).toBe(1_000_000);
    expect(s.stalls).toBe(1);
    expect(s.engine).toBe('hls.js');
    h.playingDate = new Date(Date.now() - 2500);
    expect(ref.current!.getStats()!.latencyMs).toBe(2500);
  });
});

describe('native HLS fallback', () => {
  it('uses the <video> directly when MSE is missing but HLS is native', () => {
    fake.setSupported(false);
    Object.defineProperty(HTMLMediaElement.prototype, 'canPlayType', {
      configurable: true,
      value: vi.fn((t: string) => (t === 'application/vnd.apple.mpegurl' ? 'maybe' : '')),
    });
    const ref = createRef<HLSPlayerHandle>();
    const { unmount } = render(<HLSPlayer ref={ref} src="http://127.0.0.1/live/cam/stream.m3u8" />);
    expect(fake.instances).toHaveLength(0);
    const video = ref.current!.video!;
    expect(video.getAttribute('src')).toBe('http://127.0.0.1/live/cam/stream.m3u8');
    expect(ref.current!.getStats()!.engine).toBe('native');
    unmount();
    expect(video.getAttribute('src')).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('prefers hls.js when both exist (Chromium answers "maybe" for native HLS too)', () => {
    Object.defineProperty(HTMLMediaElement.prototype, 'canPlayType', { configurable: true, value: vi.fn(() => 'maybe') });
    render(<HLSPlayer src="/a.m3u8" />);
    expect(fake.instances).toHaveLength(1);
  });

  it('with neither, says so instead of failing silently', () => {
    fake.setSupported(false);
    const phases: Array<[string, string | null]> = [];
    render(<HLSPlayer src="/a.m3u8" onStateChange={(p, r) => phases.push([p, r])} />);
    expect(phases.at(-1)).toEqual(['offline', 'this browser cannot play HLS']);
  });
});


/** A <video> playing at `t`, recording every seek (currentTime assignments) into `seeks`. */
function setPlayingWithSeeks(video: HTMLVideoElement, t: number, seeks: number[], buffered: [number, number]) {
  Object.defineProperty(video, 'currentTime', { configurable: true, get: () => t, set: (v: number) => seeks.push(v) });
  Object.defineProperty(video, 'paused', { configurable: true, get: () => false });
  Object.defineProperty(video, 'buffered', { configurable: true, get: () => ({ length: 1, start: () => buffered[0], end: () => buffered[1] }) });
}

describe('target latency held after stalls', () => {
  it('2 s of playback after a stall puts hls.js target back to PART-HOLD-BACK and jumps to live within the buffer', () => {
    const ref = createRef<HLSPlayerHandle>();
    render(<HLSPlayer ref={ref} src="/a.m3u8" profile="ll" />);
    const h = fake.instances[0];
    const video = ref.current!.video!;
    const seeks: number[] = [];
    h.latestLevelDetails = { targetduration: 1, partHoldBack: 0.6, holdBack: 3 };
    h.targetLatency = 0.6;
    setPlayingWithSeeks(video, 10, seeks, [5, 12]);
    act(() => vi.advanceTimersByTime(1000));
    setPlayingWithSeeks(video, 10.5, seeks, [5, 12]);
    act(() => vi.advanceTimersByTime(1000)); // live; the start-up catch-up finds no sync position
    act(() => vi.advanceTimersByTime(1000));
    expect(seeks).toEqual([]);
    // A stall: hls.js adds 1 s to its target (liveSyncOnStallIncrease).
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferStalledError', fatal: false }));
    h.targetLatency = 1.6;
    h.liveSyncPosition = 11.6;
    setPlayingWithSeeks(video, 10.6, seeks, [5, 12]);
    act(() => vi.advanceTimersByTime(1000));
    expect(h.targetLatency).toBe(1.6); // 1 s after the stall: not yet
    setPlayingWithSeeks(video, 10.9, seeks, [5, 12]);
    act(() => vi.advanceTimersByTime(1000));
    expect(h.targetLatency).toBe(0.6);
    expect(seeks).toEqual([11.6]);
    // Once per stall.
    setPlayingWithSeeks(video, 11.2, seeks, [5, 12]);
    act(() => vi.advanceTimersByTime(2000));
    expect(seeks).toEqual([11.6]);
  });

  it('a second stall restarts the 2 s, and the jump never leaves the buffered range', () => {
    const ref = createRef<HLSPlayerHandle>();
    render(<HLSPlayer ref={ref} src="/a.m3u8" profile="ultra-low" />);
    const h = fake.instances[0];
    const video = ref.current!.video!;
    const seeks: number[] = [];
    h.latestLevelDetails = { targetduration: 1, holdBack: 3 };
    h.targetLatency = 2;
    setPlayingWithSeeks(video, 20, seeks, [15, 23]);
    act(() => vi.advanceTimersByTime(1000));
    setPlayingWithSeeks(video, 20.5, seeks, [15, 23]);
    act(() => vi.advanceTimersByTime(1000));
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferStalledError', fatal: false }));
    h.targetLatency = 3;
    setPlayingWithSeeks(video, 20.7, seeks, [15, 23]);
    act(() => vi.advanceTimersByTime(1000));
    act(() => h.emit('hlsError', { type: 'mediaError', details: 'bufferStalledError', fatal: false }));
    setPlayingWithSeeks(video, 20.8, seeks, [15, 23]);
    act(() => vi.advanceTimersByTime(1000));
    expect(h.targetLatency).toBe(3);
    h.liveSyncPosition = 24; // beyond what is buffered
    setPlayingWithSeeks(video, 21, seeks, [15, 23]);
    act(() => vi.advanceTimersByTime(1000));
    expect(h.targetLatency).toBe(2); // liveSyncDurationCount 2 x TARGETDURATION 1
    expect(seeks).toEqual([22.9]);
  });
});

describe('protocol ll-hls: LL detected from the playlist', () => {
  const LL_PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,HOLD-BACK=3.000\n#EXT-X-PART-INF:PART-TARGET=0.200\n#EXTINF:1.0,\ns.m4s\n';
  const CLASSIC_PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=3.000\n#EXTINF:1.0,\ns.ts\n';
  const configOf = (h: { config: Record<string, unknown> }) => {
    const { workerPath: _w, ...cfg } = h.config;
    void _w;
    return cfg;
  };

  it('an LL playlist gets the ll row, with no URL parameter and no profile', async () => {
    const fetchMock = vi.fn(async () => new Response(LL_PLAYLIST, { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    const kinds: boolean[] = [];
    render(<HLSPlayer src="http://box/live/cam/stream.m3u8" protocol="ll-hls" onPlaylistKind={(k) => kinds.push(k)} />);
    expect(fake.instances).toHaveLength(0); // waits for the answer
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(fetchMock).toHaveBeenCalledWith('http://box/live/cam/stream.m3u8', expect.objectContaining({ cache: 'no-store' }));
    expect(fake.instances).toHaveLength(1);
    expect(configOf(fake.instances[0])).toEqual({ ...PROFILES.ll.hls });
    expect(kinds).toEqual([true]);
  });

  it('a classic playlist gets the given profile (the reference settings without one)', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(CLASSIC_PLAYLIST, { status: 200 })));
    render(<HLSPlayer src="http://box/live/cam/stream.m3u8" protocol="ll-hls" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(configOf(fake.instances[0])).toEqual({ ...REFERENCE_HLS_CONFIG });
  });

  it('profile ll on a classic playlist falls back to the reference settings, not HOLD-BACK', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(CLASSIC_PLAYLIST, { status: 200 })));
    render(<HLSPlayer src="http://box/a.m3u8" protocol="ll-hls" profile="ll" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(configOf(fake.instances[0])).toEqual({ ...REFERENCE_HLS_CONFIG });
  });

  it('when the request fails it plays the given config, and hls.js reading parts switches it to ll', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    render(<HLSPlayer src="http://box/a.m3u8" protocol="ll-hls" profile="low" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(configOf(fake.instances[0])).toEqual({ ...PROFILES.low.hls });
    act(() => fake.instances[0].emit('hlsLevelLoaded', { details: { endSN: 5, targetduration: 1, partTarget: 0.2, partHoldBack: 0.6, partList: [] } }));
    act(() => vi.advanceTimersByTime(0));
    expect(fake.instances).toHaveLength(2);
    expect(fake.instances[0].destroyed).toBe(true);
    expect(configOf(fake.instances[1])).toEqual({ ...PROFILES.ll.hls });
  });

  it('protocol hls plays whole segments (lowLatencyMode off) without asking; no protocol asks nothing', () => {
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    render(<HLSPlayer src="/a.m3u8" protocol="hls" profile="low" />);
    expect(configOf(fake.instances[0])).toEqual({ ...PROFILES.low.hls, lowLatencyMode: false });
    render(<HLSPlayer src="/b.m3u8" />);
    expect(fake.instances).toHaveLength(2);
    expect(fetchMock).not.toHaveBeenCalled();
  });
});

describe('LivePlayer', () => {
  const LL_PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n#EXT-X-PART-INF:PART-TARGET=0.200\n';

  it('protocol hls plays HLSPlayer with whole segments, and never asks for WebRTC', () => {
    const fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    const ref = createRef<LivePlayerHandle>();
    const { container } = render(<LivePlayer ref={ref} src="http://box/live/cam/stream.m3u8" protocol="hls" profile="ultra-low" />);
    expect(fake.instances).toHaveLength(1);
    expect(fake.instances[0].config.lowLatencyMode).toBe(false);
    expect(fetchMock).not.toHaveBeenCalled();
    expect(ref.current!.protocol).toBe('hls');
    expect(container.querySelector('.liveplayer')!.getAttribute('data-protocol')).toBe('hls');
  });

  it('auto in a browser without RTCPeerConnection falls back to LL-HLS at once, LL chosen from the playlist', async () => {
    const fetchMock = vi.fn(async () => new Response(LL_PLAYLIST, { status: 200 }));
    vi.stubGlobal('fetch', fetchMock);
    const protocols: string[] = [];
    const ref = createRef<LivePlayerHandle>();
    render(<LivePlayer ref={ref} src="http://box/live/cam/stream.m3u8" onProtocol={(p) => protocols.push(p)} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(protocols).toEqual(['webrtc', 'll-hls']);
    expect(fake.instances).toHaveLength(1);
    expect(fake.instances[0].config.maxLiveSyncPlaybackRate).toBe(1); // the ll profile: the player trims
    expect(fake.instances[0].config.liveSyncDurationCount).toBeUndefined();
    expect(ref.current!.hls).toBe(fake.instances[0]);
    expect(ref.current!.peerConnection).toBeNull();
  });
});

describe('CameraTile', () => {
  it('shows which protocol plays (from the stats) before the latency', () => {
    const camera = { id: 'cam', name: 'Cam', status: 'live' as const, playlistUrl: '/live/cam/stream.m3u8', lastSegmentTime: null };
    const { container } = render(
      <ul>
        <CameraTile camera={camera} expanded={false} onToggle={() => {}} protocol="hls" />
      </ul>,
    );
    const h = fake.instances.at(-1)!;
    h.latestLevelDetails = { targetduration: 1, holdBack: 3 };
    h.playingDate = new Date(Date.now() - 2000);
    const video = container.querySelector('video')!;
    setPlaying(video, 1);
    act(() => vi.advanceTimersByTime(1000));
    setPlaying(video, 2);
    h.playingDate = new Date(Date.now() + 1000 - 2000);
    act(() => vi.advanceTimersByTime(1000));
    const li = container.querySelector('li')!;
    expect(li.getAttribute('data-state')).toBe('live');
    expect(li.getAttribute('data-protocol')).toBe('hls');
    expect(li.querySelector('.tile-stats')!.textContent).toMatch(/^HLS · lat 2\.0 s · buf/);
  });
});
