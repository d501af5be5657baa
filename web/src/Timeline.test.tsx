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

  it('has no timeline when the camera is not recorded', () => {
    const { container } = render(<CameraTile camera={{ ...camera, recording: { enabled: false, state: null, oldest: null, newest: null, vodBase: null } }} expanded onToggle={() => undefined} />);
    expect(container.querySelector('.timeline')).toBeNull();
    expect(posterUrl(undefined)).toBeUndefined();
    expect(posterUrl('/live/c/snapshot.jpg', 120_000)).toBe('/live/c/snapshot.jpg?m=2');
  });
});
