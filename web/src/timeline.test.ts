// The timeline's arithmetic (timeline.ts): scale, zoom and pan limits, the recorded/hole
// layout, ticks, keyboard steps, URLs, and where a wall-clock time is in a VOD playlist.

import { describe, expect, it } from 'vitest';
import {
  DAY,
  HOUR,
  MAX_CLIP_MS,
  MINUTE,
  MIN_SPAN_MS,
  SHARE_MESSAGE_MAX,
  clampView,
  clipRange,
  clipShareRequest,
  clipUrl,
  dayView,
  formatSpan,
  isRecorded,
  keyStep,
  layoutBar,
  panView,
  parseShareAnswer,
  parseSpans,
  positionFor,
  revealTime,
  shareFailure,
  snapshotTime,
  spansUrl,
  ticks,
  timeAt,
  timeToX,
  urlToken,
  vodPlaylistUrl,
  vodSnapshotUrl,
  xToTime,
  zoomView,
  type Frag,
} from './timeline';

const T = Date.parse('2026-12-03T12:00:00.000Z');
const view = { start: T - DAY, end: T };

describe('scale', () => {
  it('maps time to x and back across the bar', () => {
    expect(timeToX(T - DAY, view, 1200)).toBe(0);
    expect(timeToX(T, view, 1200)).toBe(1200);
    expect(timeToX(T - 12 * HOUR, view, 1200)).toBe(600);
    expect(xToTime(600, view, 1200)).toBe(T - 12 * HOUR);
    for (const x of [0, 1, 333.5, 1199, 1200]) expect(timeToX(xToTime(x, view, 1200), view, 1200)).toBeCloseTo(x, 6);
  });
  it('clamps x to the bar and survives a zero width', () => {
    expect(xToTime(-50, view, 1200)).toBe(view.start);
    expect(xToTime(5000, view, 1200)).toBe(view.end);
    expect(xToTime(10, view, 0)).toBe(view.start);
    expect(timeToX(T, view, 0)).toBe(0);
  });
});

describe('zoom and pan', () => {
  const limit = dayView(T);
  it('zooms in around the anchor, which stays at the same place on the bar', () => {
    const anchor = T - 6 * HOUR;
    const z = zoomView(view, 0.5, anchor, limit);
    expect(z.end - z.start).toBe(12 * HOUR);
    expect(timeToX(anchor, z, 1000)).toBeCloseTo(timeToX(anchor, view, 1000), 6);
  });
  it('goes down to one minute and no further, and out to the day and no further', () => {
    let v = view;
    for (let i = 0; i < 20; i++) v = zoomView(v, 0.5, T - HOUR, limit);
    expect(v.end - v.start).toBe(MIN_SPAN_MS);
    expect(v.start).toBeLessThanOrEqual(T - HOUR);
    expect(v.end).toBeGreaterThanOrEqual(T - HOUR);
    for (let i = 0; i < 20; i++) v = zoomView(v, 2, T - HOUR, limit);
    expect(v).toEqual(view);
  });
  it('keeps the view inside its limit when zooming out near an edge and when panning', () => {
    const near = { start: T - 2 * MINUTE, end: T };
    const z = zoomView(near, 8, T - MINUTE, limit);
    expect(z.end).toBe(T);
    expect(z.end - z.start).toBe(16 * MINUTE);
    expect(panView(z, HOUR, limit)).toEqual(z);
    expect(panView(z, -2 * DAY, limit).start).toBe(limit.start);
    expect(clampView({ start: T - 3 * DAY, end: T + DAY }, limit)).toEqual(limit);
  });
  it('reveals a time that is off screen with the smallest pan', () => {
    const v = { start: T - 2 * HOUR, end: T - HOUR };
    expect(revealTime(v, T - 1.5 * HOUR, limit)).toEqual(v);
    const r = revealTime(v, T - 30 * MINUTE, limit);
    expect(r.end - r.start).toBe(HOUR);
    expect(r.end).toBeGreaterThan(T - 30 * MINUTE);
    expect(r.end - (T - 30 * MINUTE)).toBeCloseTo(0.05 * HOUR, 6);
  });
});

describe('what is recorded, and the holes', () => {
  it('parses spans.json, merges overlaps, drops malformed entries', () => {
    const spans = parseSpans({
      camera: 'c',
      spans: [
        { start: '2026-12-03T10:00:00.000Z', end: '2026-12-03T11:00:00.000Z' },
        { start: '2026-12-03T08:00:00.000Z', end: '2026-12-03T09:00:00.000Z' },
        { start: '2026-12-03T10:30:00.000Z', end: '2026-12-03T11:30:00.000Z' },
        { start: 'nonsense', end: '2026-12-03T11:30:00.000Z' },
        { start: '2026-12-03T07:00:00.000Z' },
        null,
      ],
    });
    expect(spans).toEqual([
      { start: Date.parse('2026-12-03T08:00:00.000Z'), end: Date.parse('2026-12-03T09:00:00.000Z') },
      { start: Date.parse('2026-12-03T10:00:00.000Z'), end: Date.parse('2026-12-03T11:30:00.000Z') },
    ]);
    expect(() => parseSpans({ error: 'x' })).toThrow(/spans\.json/);
  });

  it('lays out recorded runs, the holes between them up to now, and the future after now', () => {
    const v = { start: T - 4 * HOUR, end: T + 2 * HOUR }; // 6 h on 600 px: 100 px per hour
    const spans = [
      { start: T - 5 * HOUR, end: T - 3 * HOUR }, // starts before the view
      { start: T - 2 * HOUR, end: T - HOUR },
    ];
    const p = layoutBar(spans, v, 600, T);
    expect(p.map((x) => [x.kind, Math.round(x.x), Math.round(x.w)])).toEqual([
      ['recorded', 0, 100],
      ['hole', 100, 100],
      ['recorded', 200, 100],
      ['hole', 300, 100], // T-1h .. now
      ['future', 400, 200],
    ]);
  });

  it('shows a view with nothing recorded as one hole, and a short run at the day zoom as one pixel', () => {
    expect(layoutBar([], view, 1000, T).map((x) => x.kind)).toEqual(['hole']);
    const p = layoutBar([{ start: T - HOUR, end: T - HOUR + 2000 }], view, 1000, T);
    const rec = p.filter((x) => x.kind === 'recorded');
    expect(rec).toHaveLength(1);
    expect(rec[0].w).toBe(1);
    expect(p.filter((x) => x.kind === 'hole')).toHaveLength(2);
  });

  it('answers whether a time is recorded', () => {
    const spans = [{ start: T - HOUR, end: T - 30 * MINUTE }];
    expect(isRecorded(spans, T - 45 * MINUTE)).toBe(true);
    expect(isRecorded(spans, T - 30 * MINUTE)).toBe(false);
    expect(isRecorded(spans, T - 2 * HOUR)).toBe(false);
  });
});

describe('ticks and labels', () => {
  it('picks round steps at least minGap apart, on local round times', () => {
    const r = ticks(view, 1200, 0);
    expect(r.step).toBe(2 * HOUR); // 12 ticks of 100 px
    expect(r.ticks.every((t) => t.t % (2 * HOUR) === 0)).toBe(true);
    expect(r.ticks.length).toBe(13);
    const m = ticks({ start: T - 5 * MINUTE, end: T }, 1200, 0);
    expect(m.step).toBe(30_000);
    // UTC+05:30: ticks fall on local whole hours, i.e. xx:30 UTC.
    const india = ticks(view, 1200, -330);
    expect(india.ticks.every((t) => (t.t + 330 * MINUTE) % (2 * HOUR) === 0)).toBe(true);
  });
  it('names the zoom level and steps the keyboard cursor', () => {
    expect(formatSpan(DAY)).toBe('24 h');
    expect(formatSpan(90 * MINUTE)).toBe('1.5 h');
    expect(formatSpan(MINUTE)).toBe('1 min');
    expect(keyStep(view)).toBe(24 * MINUTE);
    expect(keyStep(view, true)).toBe(240 * MINUTE);
    expect(keyStep({ start: 0, end: MINUTE })).toBe(1000);
  });
  it('rounds hover thumbnail times so nearby pointer positions ask for the same picture', () => {
    expect(snapshotTime(T + 700, { start: T - MINUTE, end: T })).toBe(T);
    expect(snapshotTime(T + 3 * MINUTE, view)).toBe(Math.round((T + 3 * MINUTE) / (DAY / 200)) * (DAY / 200));
  });
});

describe('URLs', () => {
  const base = 'http://127.0.0.1:8080/vod/cam_till/?token=s3cret';
  it('keep the token and carry the times as ISO 8601', () => {
    const u = new URL(vodPlaylistUrl(base, T, 10 * MINUTE));
    expect(u.pathname).toBe('/vod/cam_till/index.m3u8');
    expect(u.searchParams.get('token')).toBe('s3cret');
    expect(u.searchParams.get('start')).toBe('2026-12-03T12:00:00.000Z');
    expect(u.searchParams.get('end')).toBe('2026-12-03T12:10:00.000Z');
    expect(new URL(spansUrl(base, view)).searchParams.get('start')).toBe('2026-12-02T12:00:00.000Z');
    expect(new URL(vodSnapshotUrl(base, T)).pathname).toBe('/vod/cam_till/snapshot.jpg');
    expect(new URL(clipUrl(base, T, T + 20_000)).searchParams.get('end')).toBe('2026-12-03T12:00:20.000Z');
  });
  it('stay relative when the base is', () => {
    expect(vodSnapshotUrl('/vod/c/', T)).toBe('/vod/c/snapshot.jpg?t=2026-12-03T12%3A00%3A00.000Z');
  });
  it('orders a clip selection and cuts it at the route limit', () => {
    expect(clipRange(T + 20_000, T)).toEqual({ start: T, end: T + 20_000, cut: false });
    expect(clipRange(T, T + HOUR)).toEqual({ start: T, end: T + MAX_CLIP_MS, cut: true });
  });
});

describe('sharing a clip (POST clip.mp4)', () => {
  const base = 'http://127.0.0.1:8080/vod/cam_till/?token=s3cret';
  it('POSTs the Clip link\'s own URL, its token also as the bearer', () => {
    const { url, init } = clipShareRequest(base, T, T + 20_000);
    expect(url).toBe(clipUrl(base, T, T + 20_000));
    expect(new URL(url).searchParams.get('token')).toBe('s3cret');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).authorization).toBe('Bearer s3cret');
    // No token on the page: no header either; a relative base stays relative.
    const plain = clipShareRequest('/vod/c/', T, T + 1000);
    expect(plain.url).toBe('/vod/c/clip.mp4?start=2026-12-03T12%3A00%3A00.000Z&end=2026-12-03T12%3A00%3A01.000Z');
    expect((plain.init.headers as Record<string, string>).authorization).toBeUndefined();
    expect(urlToken('/vod/c/?token=a%20b')).toBe('a b');
    expect(urlToken('/vod/c/?token=')).toBeNull();
  });
  it('reads a 201 as the stored clip\'s link', () => {
    const body = JSON.stringify({ url: 'https://x.supabase.co/storage/v1/object/public/streams/location_1/cam1/clips/cam1_2026-12-03T17-42-43.216Z_10s.mp4', name: 'location_1/cam1/clips/cam1_2026-12-03T17-42-43.216Z_10s.mp4', camera: 'cam1', start: '2026-12-03T17:42:43.216Z', duration_s: 10.4, bytes: 2774855 });
    expect(parseShareAnswer(201, body)).toEqual({ ok: true, url: JSON.parse(body).url, name: JSON.parse(body).name });
    expect(parseShareAnswer(201, '{"name":"x"}')).toEqual({ ok: false, message: 'The clip was stored, but the answer has no link' });
    expect(parseShareAnswer(201, 'not json').ok).toBe(false);
  });
  it('shows any other answer\'s text, trimmed, or the status when it has none worth showing', () => {
    expect(parseShareAnswer(409, '409 no remote storage (supabase or s3) is configured to share clips to; GET clip.mp4 downloads it\n')).toEqual({
      ok: false,
      message: '409 no remote storage (supabase or s3) is configured to share clips to; GET clip.mp4 downloads it',
    });
    expect(parseShareAnswer(502, '  502 the clip was built but not stored:\n mime type video/mp4 is not supported \n').ok).toBe(false);
    expect((parseShareAnswer(502, '502 the clip was built but not stored:\n mime type video/mp4 is not supported') as { message: string }).message).toBe(
      '502 the clip was built but not stored: mime type video/mp4 is not supported',
    );
    expect(parseShareAnswer(503, '')).toEqual({ ok: false, message: 'HTTP 503' });
    expect(parseShareAnswer(502, '<html><body>Bad Gateway</body></html>')).toEqual({ ok: false, message: 'HTTP 502' });
    const long = (parseShareAnswer(500, 'x'.repeat(1000)) as { message: string }).message;
    expect(long.length).toBe(SHARE_MESSAGE_MAX);
    expect(long.endsWith('…')).toBe(true);
  });
  it('says a failed request in one line, never with its stack', () => {
    const err = new TypeError('Failed to fetch');
    err.stack = 'TypeError: Failed to fetch\n    at onShare (Timeline.tsx:1:1)';
    expect(shareFailure(err)).toBe('Cannot share the clip: Failed to fetch');
    expect(shareFailure(new Error('first line\n    at somewhere'))).toBe('Cannot share the clip: first line');
    expect(shareFailure({})).toBe('Cannot share the clip: the request failed');
  });
});

describe('wall clock <-> media position in a VOD playlist', () => {
  // Three 2 s segments, a 10 s hole (a restart), then two more; hls.js places them back to back.
  const t0 = T;
  const frags: Frag[] = [
    { start: 0, duration: 2, programDateTime: t0 },
    { start: 2, duration: 2, programDateTime: t0 + 2000 },
    { start: 4, duration: 2, programDateTime: t0 + 4000 },
    { start: 6, duration: 2, programDateTime: t0 + 16_000 },
    { start: 8, duration: 2, programDateTime: t0 + 18_000 },
  ];
  it('finds the position inside the segment that holds the time', () => {
    expect(positionFor(frags, t0)).toBe(0);
    expect(positionFor(frags, t0 + 3500)).toBeCloseTo(3.5, 9);
    expect(positionFor(frags, t0 + 17_250)).toBeCloseTo(7.25, 9);
  });
  it('starts a time in a hole at the next recorded segment; before the first, at the first; after all: null', () => {
    expect(positionFor(frags, t0 + 9000)).toBe(6);
    expect(positionFor(frags, t0 - 5000)).toBe(0);
    expect(positionFor(frags, t0 + 60_000)).toBeNull();
    expect(positionFor([], t0)).toBeNull();
  });
  it('maps a position back to the wall clock', () => {
    expect(timeAt(frags, 3.5)).toBe(t0 + 3500);
    expect(timeAt(frags, 6.5)).toBe(t0 + 16_500);
    expect(timeAt(frags, 11)).toBeNull();
    for (const t of [t0 + 1, t0 + 5999, t0 + 16_000, t0 + 19_000]) expect(timeAt(frags, positionFor(frags, t) as number)).toBeCloseTo(t, 6);
  });
});
