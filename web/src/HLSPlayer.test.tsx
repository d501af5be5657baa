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
