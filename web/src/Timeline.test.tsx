// @vitest-environment jsdom
// The timeline component (Timeline.tsx), VodPlayer's start position, and the enlarged tile
// wiring them together. spans.json is answered by a stubbed fetch and hls.js is a fake
// (real playback and the real origin: e2e/timeline.mjs in Chromium).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';

const fake = vi.hoisted(() => {
  type Handler = (event: string, data: unknown) => void;
  const instances: FakeHls[] = [];
  class FakeHls {
    static Events = { LEVEL_LOADED: 'hlsLevelLoaded', ERROR: 'hlsError' };
    static isSupported() {
      return true;
    }
    handlers = new Map<string, Handler[]>();
    config: Record<string, unknown>;
    src: string | null = null;
    started: number | null = null;
    destroyed = false;
    constructor(config: Record<string, unknown>) {
      this.config = config;
      instances.push(this);
    }
    on(e: string, fn: Handler) {
      this.handlers.set(e, [...(this.handlers.get(e) ?? []), fn]);
    }
    emit(e: string, data: unknown) {
      for (const fn of this.handlers.get(e) ?? []) fn(e, data);
    }
    attachMedia() {}
    loadSource(s: string) {
      this.src = s;
    }
    startLoad(pos: number) {
      this.started = pos;
    }
    destroy() {
      this.destroyed = true;
    }
  }
  return { FakeHls, instances };
});
vi.mock('hls.js', () => ({ default: fake.FakeHls }));

vi.mock('./LivePlayer', async () => {
  const { forwardRef } = await import('react');
  const LivePlayer = forwardRef(function LivePlayer(props: { poster?: string }, _ref) {
    return <video data-testid="live" poster={props.poster} />;
  });
  return { LivePlayer, default: LivePlayer, PROTOCOL_LABEL: { webrtc: 'WebRTC', 'll-hls': 'LL-HLS', hls: 'HLS' } };
});

import { Timeline } from './Timeline';
import { VodPlayer } from './VodPlayer';
import { CameraTile, posterUrl } from './CameraTile';
import { DAY, HOUR, MINUTE } from './timeline';
import type { Camera } from './cameras';

const T = Date.parse('2026-12-03T12:00:00.000Z');
const BASE = 'http://127.0.0.1:1/vod/cam/?token=tk';
// Recorded: 10:00-11:00 and 11:30-11:59:30; holes around them.
const SPANS = {
  camera: 'cam',
  spans: [
    { start: '2026-12-03T10:00:00.000Z', end: '2026-12-03T11:00:00.000Z' },
    { start: '2026-12-03T11:30:00.000Z', end: '2026-12-03T11:59:30.000Z' },
  ],
};

let fetched: string[] = [];
let answer: () => Response = () => new Response(JSON.stringify(SPANS), { status: 200, headers: { 'content-type': 'application/json' } });

beforeEach(() => {
  fetched = [];
  fake.instances.length = 0;
  answer = () => new Response(JSON.stringify(SPANS), { status: 200, headers: { 'content-type': 'application/json' } });
  vi.stubGlobal('fetch', async (u: string) => {
    fetched.push(String(u));
    return answer();
  });
  // The bar is 1000 px wide at x = 0 (jsdom lays nothing out).
  vi.spyOn(HTMLElement.prototype, 'getBoundingClientRect').mockReturnValue({ left: 0, top: 0, width: 1000, height: 30, right: 1000, bottom: 30, x: 0, y: 0, toJSON: () => ({}) } as DOMRect);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

async function renderTimeline(extra: Partial<Parameters<typeof Timeline>[0]> = {}) {
  const onPlay = vi.fn();
  const onLive = vi.fn();
  const r = render(<Timeline cameraName="Till" vodBase={BASE} mode="live" onPlay={onPlay} onLive={onLive} now={() => T} {...extra} />);
  await act(async () => {
    await new Promise((res) => setTimeout(res, 0));
  });
  const bar = screen.getByRole('slider', { name: 'Timeline of Till' });
  return { ...r, bar, onPlay, onLive };
}

describe('Timeline', () => {
  it('asks spans.json for the last 24 h (with the token) and draws recorded runs and holes', async () => {
    const { container } = await renderTimeline();
    const u = new URL(fetched[0]);
    expect(u.pathname).toBe('/vod/cam/spans.json');
    expect(u.searchParams.get('token')).toBe('tk');
    expect(Date.parse(u.searchParams.get('start') as string)).toBe(T - DAY);
    const kinds = [...container.querySelectorAll('.tl-piece')].map((p) => p.className.replace('tl-piece tl-', ''));
    expect(kinds).toEqual(['hole', 'recorded', 'hole', 'recorded', 'hole']);
    const rec = container.querySelector('.tl-recorded') as HTMLElement;
    expect(rec.style.left).toBe(`${((22 * HOUR) / DAY) * 100}%`);
  });

  it('is a labelled slider: arrows move the cursor, + and - zoom, Enter plays from the cursor', async () => {
    const { bar, onPlay } = await renderTimeline();
    expect(bar.getAttribute('tabindex')).toBe('0');
    expect(bar.getAttribute('aria-valuenow')).toBe(String((T - MINUTE) / 1000));
    expect(bar.getAttribute('aria-valuetext')).toMatch(/, recorded$/);
    expect(screen.getByTestId('tl-span').textContent).toBe('24 h');
    fireEvent.keyDown(bar, { key: '+' });
    fireEvent.keyDown(bar, { key: '+' });
    expect(screen.getByTestId('tl-span').textContent).toBe('6 h');
    fireEvent.keyDown(bar, { key: '-' });
    expect(screen.getByTestId('tl-span').textContent).toBe('12 h');
    fireEvent.keyDown(bar, { key: 'ArrowLeft' }); // 12 h / 60 = 12 min
    expect(Number(bar.getAttribute('aria-valuenow'))).toBe((T - MINUTE - 12 * MINUTE) / 1000);
    fireEvent.keyDown(bar, { key: 'PageDown' }); // 120 min: 11:47 -> 9:47, before the first run
    expect(bar.getAttribute('aria-valuetext')).toMatch(/, not recorded$/);
    fireEvent.keyDown(bar, { key: 'Enter' });
    expect(onPlay).toHaveBeenCalledWith(T - 133 * MINUTE);
    for (let i = 0; i < 20; i++) fireEvent.keyDown(bar, { key: '+' });
    expect(screen.getByTestId('tl-span').textContent).toBe('1 min');
    expect(screen.getByRole('button', { name: 'Zoom in' }).hasAttribute('disabled')).toBe(true);
  });

  it('the wheel zooms around the pointer and pans sideways', async () => {
    const { bar } = await renderTimeline();
    fireEvent.wheel(bar, { deltaY: -100, clientX: 500 });
    expect(screen.getByTestId('tl-span').textContent).toBe('12 h');
    // The time under the pointer (T - 12 h) stays under it: the view is T-18h .. T-6h.
    expect(Date.parse(bar.getAttribute('data-view-start') as string)).toBe(T - 18 * HOUR);
    fireEvent.wheel(bar, { deltaX: 500, deltaY: 0, clientX: 500 });
    expect(Date.parse(bar.getAttribute('data-view-end') as string)).toBe(T);
    fireEvent.wheel(bar, { deltaY: 100, clientX: 500 });
    expect(screen.getByTestId('tl-span').textContent).toBe('24 h');
  });

  it('a click plays from the time under the pointer; a drag selects a clip instead', async () => {
    const { bar, onPlay } = await renderTimeline();
    fireEvent.pointerDown(bar, { clientX: 500, button: 0, pointerId: 1 });
    fireEvent.pointerUp(bar, { clientX: 500, button: 0, pointerId: 1 });
    expect(onPlay).toHaveBeenCalledTimes(1);
    expect(onPlay).toHaveBeenCalledWith(T - 12 * HOUR);
    // 23:00 .. 23:02 of the 24 h bar: 958.33 px .. 959.72 px.
    const x = (t: number) => ((t - (T - DAY)) / DAY) * 1000;
    fireEvent.pointerDown(bar, { clientX: x(T - HOUR), button: 0, pointerId: 1 });
    fireEvent.pointerMove(bar, { clientX: x(T - HOUR) + 10, button: 0, pointerId: 1 });
    fireEvent.pointerUp(bar, { clientX: x(T - HOUR) + 10, button: 0, pointerId: 1 });
    expect(onPlay).toHaveBeenCalledTimes(1);
    const clip = screen.getByRole('link', { name: /^Clip / });
    const u = new URL(clip.getAttribute('href') as string);
    expect(u.pathname).toBe('/vod/cam/clip.mp4');
    expect(u.searchParams.get('token')).toBe('tk');
    expect(Date.parse(u.searchParams.get('start') as string)).toBeCloseTo(T - HOUR, -1);
    expect(clip.hasAttribute('download')).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Clear the selection' }));
    expect(screen.queryByRole('link', { name: /^Clip / })).toBeNull();
  });

  it('Shift+arrows select a range; a clip longer than 5 minutes is cut', async () => {
    const { bar } = await renderTimeline();
    for (let i = 0; i < 2; i++) fireEvent.keyDown(bar, { key: 'ArrowLeft', shiftKey: true });
    const u = new URL(screen.getByRole('link', { name: /^Clip / }).getAttribute('href') as string);
    expect(Date.parse(u.searchParams.get('end') as string) - Date.parse(u.searchParams.get('start') as string)).toBe(5 * MINUTE);
    expect(screen.getByRole('link', { name: /^Clip / }).textContent).toMatch(/5 min max/);
  });

  it('hovering a recorded time shows its snapshot, a hole says so, a failed picture says so', async () => {
    const { container, bar } = await renderTimeline();
    const x = (t: number) => ((t - (T - DAY)) / DAY) * 1000;
    fireEvent.pointerMove(bar, { clientX: x(T - 90 * MINUTE) });
    const img = container.querySelector('.tl-preview img') as HTMLImageElement;
    const u = new URL(img.src);
    expect(u.pathname).toBe('/vod/cam/snapshot.jpg');
    expect(u.searchParams.get('token')).toBe('tk');
    expect(Math.abs(Date.parse(u.searchParams.get('t') as string) - (T - 90 * MINUTE))).toBeLessThanOrEqual(DAY / 400);
    fireEvent.error(img);
    expect(container.querySelector('.tl-preview')?.textContent).toMatch(/No picture/);
    fireEvent.pointerMove(bar, { clientX: x(T - 45 * MINUTE) }); // the hole 11:00-11:30
    expect(container.querySelector('.tl-preview img')).toBeNull();
    expect(container.querySelector('.tl-preview')?.textContent).toMatch(/Not recorded/);
    fireEvent.pointerLeave(bar);
    expect(container.querySelector('.tl-preview')).toBeNull();
  });

  it('"Live" is a toggle button; a failing spans.json is said, a 404 is an empty day', async () => {
    const { onLive } = await renderTimeline({ mode: 'vod', playhead: T - 2 * HOUR });
    const live = screen.getByRole('button', { name: 'Live' });
    expect(live.getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(live);
    expect(onLive).toHaveBeenCalled();
    expect(screen.getByTestId('tl-playhead')).toBeTruthy();
    cleanup();
    answer = () => new Response('boom', { status: 500 });
    await renderTimeline();
    expect(screen.getByText('Cannot load the recordings (HTTP 500)')).toBeTruthy();
    cleanup();
    answer = () => new Response('404 no recordings for this camera yet\n', { status: 404 });
    const { container } = await renderTimeline();
    expect([...container.querySelectorAll('.tl-piece')].map((p) => p.className)).toEqual(['tl-piece tl-hole']);
  });
});

describe('Timeline: sharing a clip', () => {
  const LINK = 'https://x.supabase.co/storage/v1/object/public/streams/location_1/cam/clips/cam_2026-12-03T11-58-00.000Z_120s.mp4';
  const CREATED = { url: LINK, name: 'location_1/cam/clips/cam_2026-12-03T11-58-00.000Z_120s.mp4', camera: 'cam', start: '2026-12-03T11:58:00.000Z', duration_s: 120, bytes: 2774855 };
  let posts: { url: string; init: RequestInit }[] = [];
  let shareAnswer: () => Promise<Response>;
  const created = () => Promise.resolve(new Response(JSON.stringify(CREATED), { status: 201, headers: { 'content-type': 'application/json' } }));
  const text = (status: number, body: string) => () => Promise.resolve(new Response(body, { status, headers: { 'content-type': 'text/plain' } }));
  const writeText = vi.fn<(s: string) => Promise<void>>();

  beforeEach(() => {
    posts = [];
    shareAnswer = created;
    writeText.mockReset();
    writeText.mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    // spans.json as above; the POST to clip.mp4 answered by shareAnswer.
    vi.stubGlobal('fetch', async (u: string, init?: RequestInit) => {
      if (init?.method === 'POST') {
        posts.push({ url: String(u), init });
        return shareAnswer();
      }
      fetched.push(String(u));
      return answer();
    });
  });
  afterEach(() => {
    delete (navigator as { clipboard?: unknown }).clipboard;
  });

  /** Two Shift+ArrowLeft from the cursor: a range, so "Clip" (and "Share") show. */
  const select = (bar: HTMLElement) => {
    for (let i = 0; i < 2; i++) fireEvent.keyDown(bar, { key: 'ArrowLeft', shiftKey: true });
  };
  const settle = () => act(async () => {
    await new Promise((res) => setTimeout(res, 0));
  });

  it('has no Share button unless the origin can share clips, and none before a range is selected', async () => {
    const { bar } = await renderTimeline();
    select(bar);
    expect(screen.getByRole('link', { name: /^Clip / })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /^Shar/ })).toBeNull();
    expect(screen.queryByRole('status')).toBeNull();
    cleanup();
    const second = await renderTimeline({ canShare: true });
    expect(screen.queryByRole('button', { name: /^Shar/ })).toBeNull();
    select(second.bar);
    expect(screen.getByRole('button', { name: 'Share' })).toBeTruthy();
  });

  it('POSTs the Clip link\'s URL with the token, is busy while the origin works, then shows the link to copy', async () => {
    const { bar } = await renderTimeline({ canShare: true });
    select(bar);
    let release: (r: Response) => void = () => undefined;
    shareAnswer = () => new Promise((res) => (release = res));
    fireEvent.click(screen.getByRole('button', { name: 'Share' }));
    expect(posts).toHaveLength(1);
    const href = screen.getByRole('link', { name: /^Clip / }).getAttribute('href');
    expect(posts[0].url).toBe(href);
    expect(new URL(posts[0].url).pathname).toBe('/vod/cam/clip.mp4');
    expect(new URL(posts[0].url).searchParams.get('token')).toBe('tk');
    expect(posts[0].init.method).toBe('POST');
    expect((posts[0].init.headers as Record<string, string>).authorization).toBe('Bearer tk');

    // Pending: one busy, disabled button; a second click asks nothing more.
    const busy = screen.getByRole('button', { name: 'Sharing…' });
    expect(busy.hasAttribute('disabled')).toBe(true);
    expect(busy.getAttribute('aria-busy')).toBe('true');
    fireEvent.click(busy);
    expect(posts).toHaveLength(1);
    expect(screen.queryByRole('textbox')).toBeNull();

    await act(async () => {
      release(new Response(JSON.stringify(CREATED), { status: 201, headers: { 'content-type': 'application/json' } }));
      await new Promise((res) => setTimeout(res, 0));
    });
    const share = screen.getByRole('button', { name: 'Share' });
    expect(share.hasAttribute('disabled')).toBe(false);
    expect(share.getAttribute('aria-busy')).toBe('false');
    const link = screen.getByRole('textbox', { name: 'Link to the shared clip' }) as HTMLInputElement;
    expect(link.value).toBe(LINK);
    expect(link.readOnly).toBe(true);
    // Focus was nowhere (the busy button had it): it goes to the link, selected for copying.
    expect(document.activeElement).toBe(link);
    expect([link.selectionStart, link.selectionEnd]).toEqual([0, LINK.length]);

    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    expect(writeText).toHaveBeenCalledWith(LINK);
    expect(screen.getByRole('status').textContent).toBe('Copied');

    // No clipboard (a page on plain http): say what to do, with the link selected.
    writeText.mockRejectedValue(new DOMException('Write permission denied.', 'NotAllowedError'));
    (screen.getByRole('button', { name: 'Share' }) as HTMLElement).focus();
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    expect(screen.getByRole('status').textContent).toBe('Select and copy the link');
    expect(document.activeElement).toBe(link);

    fireEvent.click(screen.getByRole('button', { name: 'Clear the selection' }));
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.queryByRole('status')).toBeNull();
    expect(screen.queryByRole('button', { name: /^Shar/ })).toBeNull();
  });

  it('shows the origin\'s words for 409 and 502 (trimmed, in a status), and a network failure without its stack', async () => {
    const { bar, container } = await renderTimeline({ canShare: true });
    select(bar);
    const share = screen.getByRole('button', { name: 'Share' });
    shareAnswer = text(409, '409 no remote storage (supabase or s3) is configured to share clips to; GET clip.mp4 downloads it\n');
    share.focus();
    fireEvent.click(share);
    await settle();
    expect(screen.getByRole('status').textContent).toBe('409 no remote storage (supabase or s3) is configured to share clips to; GET clip.mp4 downloads it');
    expect(screen.queryByRole('textbox')).toBeNull();
    // Focus stays on (returns to) Share, ready to try again.
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Share' }));
    expect(container.querySelector('.tl-hint')?.hasAttribute('hidden')).toBe(true);

    shareAnswer = text(502, '502 the clip was built but not stored: InvalidMimeType: mime type video/mp4 is not supported\n');
    fireEvent.click(screen.getByRole('button', { name: 'Share' }));
    await settle();
    expect(screen.getByRole('status').textContent).toBe('502 the clip was built but not stored: InvalidMimeType: mime type video/mp4 is not supported');

    shareAnswer = () => Promise.reject(Object.assign(new TypeError('Failed to fetch'), { stack: 'TypeError: Failed to fetch\n    at onShare (Timeline.tsx:1:1)' }));
    fireEvent.click(screen.getByRole('button', { name: 'Share' }));
    await settle();
    expect(screen.getByRole('status').textContent).toBe('Cannot share the clip: Failed to fetch');
    expect(container.textContent).not.toMatch(/Timeline\.tsx|\n\s+at /);

    // A new range drops the old answer; the hint is back.
    fireEvent.keyDown(bar, { key: 'ArrowLeft', shiftKey: true });
    expect(screen.getByRole('status').textContent).toBe('');
    expect(container.querySelector('.tl-hint')?.hasAttribute('hidden')).toBe(false);
  });

  it('forgets a share still under way when the selection is cleared, even if its answer comes later', async () => {
    const { bar } = await renderTimeline({ canShare: true });
    select(bar);
    let release: (r: Response) => void = () => undefined;
    shareAnswer = () => new Promise((res) => (release = res));
    fireEvent.click(screen.getByRole('button', { name: 'Share' }));
    const signal = posts[0].init.signal as AbortSignal;
    fireEvent.click(screen.getByRole('button', { name: 'Clear the selection' }));
    expect(signal.aborted).toBe(true);
    // A new range is selected before the old answer arrives: it must not show up there.
    select(bar);
    await act(async () => {
      release(new Response(JSON.stringify(CREATED), { status: 201 }));
      await new Promise((res) => setTimeout(res, 0));
    });
    expect(screen.getByRole('button', { name: 'Share' })).toBeTruthy();
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.getByRole('status').textContent).toBe('');
  });
});

describe('VodPlayer', () => {
  const frags = (t0: number) => ({
    details: {
      fragments: [
        { start: 0, duration: 2, programDateTime: t0 },
        { start: 2, duration: 2, programDateTime: t0 + 2000 },
      ],
    },
  });

  it('starts loading at the position that shows the target time, and destroys hls.js on unmount', () => {
    const { container, unmount } = render(<VodPlayer src="/vod/cam/index.m3u8?start=x" target={T + 3500} />);
    const hls = fake.instances[0];
    expect(hls.config.autoStartLoad).toBe(false);
    expect(hls.src).toBe('/vod/cam/index.m3u8?start=x');
    act(() => hls.emit('hlsLevelLoaded', frags(T)));
    expect(hls.started).toBeCloseTo(1.5 + 2, 9);
    expect(container.querySelector('.vodplayer')?.getAttribute('data-vod-target')).toBe(new Date(T + 3500).toISOString());
    unmount();
    expect(hls.destroyed).toBe(true);
  });

  it('says so when nothing is recorded from the target on, or the playlist is refused', () => {
    render(<VodPlayer src="/a" target={T + 60_000} />);
    act(() => fake.instances[0].emit('hlsLevelLoaded', frags(T)));
    expect(screen.getByRole('status').textContent).toBe('Nothing recorded after this time');
    cleanup();
    render(<VodPlayer src="/b" target={T} />);
    act(() => fake.instances[1].emit('hlsError', { fatal: true, details: 'manifestLoadError', response: { code: 404 } }));
    expect(screen.getByRole('status').textContent).toBe('Nothing recorded from this time');
    expect(fake.instances[1].destroyed).toBe(true);
  });
});

describe('CameraTile with a recorded camera', () => {
  const camera: Camera = {
    id: 'cam',
    name: 'Till',
    status: 'live',
    playlistUrl: 'http://127.0.0.1:1/live/cam/stream.m3u8?token=tk',
    lastSegmentTime: null,
    snapshotUrl: 'http://127.0.0.1:1/live/cam/snapshot.jpg?token=tk',
    recording: { enabled: true, state: 'recording', oldest: null, newest: null, vodBase: BASE },
  };

  it('uses the live snapshot as poster, shows the timeline only enlarged, plays a recording and returns to live', async () => {
    const { container, rerender } = render(<CameraTile camera={camera} expanded={false} onToggle={() => undefined} />);
    const poster = new URL(screen.getByTestId('live').getAttribute('poster') as string);
    expect(poster.pathname).toBe('/live/cam/snapshot.jpg');
    expect(poster.searchParams.get('token')).toBe('tk');
    expect(poster.searchParams.get('m')).toMatch(/^\d+$/);
    expect(container.querySelector('.timeline')).toBeNull();
    rerender(<CameraTile camera={camera} expanded onToggle={() => undefined} />);
    await act(async () => {
      await new Promise((res) => setTimeout(res, 0));
    });
    const bar = screen.getByRole('slider');
    fireEvent.keyDown(bar, { key: 'Enter' });
    expect(container.querySelector('li')?.getAttribute('data-mode')).toBe('vod');
    expect(screen.queryByTestId('live')).toBeNull();
    const src = new URL(fake.instances[fake.instances.length - 1].src as string);
    expect(src.pathname).toBe('/vod/cam/index.m3u8');
    expect(src.searchParams.get('token')).toBe('tk');
    expect(screen.getByTestId('badge').textContent).toBe('Playback');
    fireEvent.click(screen.getByRole('button', { name: 'Live' }));
    expect(container.querySelector('li')?.getAttribute('data-mode')).toBe('live');
    expect(screen.getByTestId('live')).toBeTruthy();
  });

  it('offers Share on the enlarged tile only when /api/cameras said clip_share', async () => {
    for (const clipShare of [false, true]) {
      render(<CameraTile camera={clipShare ? { ...camera, clipShare } : camera} expanded onToggle={() => undefined} />);
      await act(async () => {
        await new Promise((res) => setTimeout(res, 0));
      });
      for (let i = 0; i < 2; i++) fireEvent.keyDown(screen.getByRole('slider'), { key: 'ArrowLeft', shiftKey: true });
      expect(screen.getByRole('link', { name: /^Clip / })).toBeTruthy();
      expect(screen.queryByRole('button', { name: 'Share' }) !== null).toBe(clipShare);
      cleanup();
    }
  });

  it('has no timeline when the camera is not recorded', () => {
    const { container } = render(<CameraTile camera={{ ...camera, recording: { enabled: false, state: null, oldest: null, newest: null, vodBase: null } }} expanded onToggle={() => undefined} />);
    expect(container.querySelector('.timeline')).toBeNull();
    expect(posterUrl(undefined)).toBeUndefined();
    expect(posterUrl('/live/c/snapshot.jpg', 120_000)).toBe('/live/c/snapshot.jpg?m=2');
  });
});
