// The recording timeline's arithmetic (Timeline.tsx draws it): which part of the day is on
// screen, where a time falls on the bar and back, what is recorded and where the holes are,
// the tick marks, and where in a VOD playlist a wall-clock time is. No DOM, no React:
// every function here is pure and unit-tested (timeline.test.ts).
//
// Times are milliseconds since the Unix epoch (UTC); x is pixels from the bar's left edge.

/** A run of continuous recording, from /vod/<camera>/spans.json. */
export interface Span {
  start: number;
  end: number;
}

/** The part of the time axis the bar shows. */
export interface View {
  start: number;
  end: number;
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The closest zoom: one minute across the bar (a pixel is a few tens of ms). */
export const MIN_SPAN_MS = MINUTE;
/** The widest: the whole day. */
export const MAX_SPAN_MS = DAY;
/** What each zoom step (button, key, wheel notch) multiplies the span by. */
export const ZOOM_FACTOR = 2;
/** The clip route's limit (src/origin/clip.c: "a clip is at most 5 minutes"). */
export const MAX_CLIP_MS = 5 * MINUTE;
/** How much is asked for per VOD playlist from the chosen moment on. */
export const VOD_WINDOW_MS = 30 * MINUTE;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function spanOf(view: View): number {
  return view.end - view.start;
}

/** Where time `t` falls on a bar `width` px wide (may be outside [0, width]). */
export function timeToX(t: number, view: View, width: number): number {
  const span = spanOf(view);
  if (span <= 0 || width <= 0) return 0;
  return ((t - view.start) / span) * width;
}

/** The time at `x` px on the bar (x is clamped to the bar). */
export function xToTime(x: number, view: View, width: number): number {
  if (width <= 0) return view.start;
  return view.start + (clamp(x, 0, width) / width) * spanOf(view);
}

/** The default view: the last 24 hours up to `now`. */
export function dayView(now: number): View {
  return { start: now - DAY, end: now };
}

/** Shift `view` so it lies inside `limit` (keeping its span; a span wider than limit is cut to it). */
export function clampView(view: View, limit: View): View {
  const span = Math.min(spanOf(view), spanOf(limit));
  let start = view.start;
  if (start + span > limit.end) start = limit.end - span;
  if (start < limit.start) start = limit.start;
  return { start, end: start + span };
}

/**
 * Zoom by `factor` (< 1 zooms in) keeping time `anchor` at the same place on the bar, the
 * span within [MIN_SPAN_MS, MAX_SPAN_MS] and the view inside `limit`.
 */
export function zoomView(view: View, factor: number, anchor: number, limit: View): View {
  const span = spanOf(view);
  const next = clamp(span * factor, MIN_SPAN_MS, Math.min(MAX_SPAN_MS, spanOf(limit)));
  const a = clamp(anchor, view.start, view.end);
  const frac = span > 0 ? (a - view.start) / span : 0.5;
  const start = a - frac * next;
  return clampView({ start, end: start + next }, limit);
}

/** Move the view by `deltaMs` (positive: later), inside `limit`. */
export function panView(view: View, deltaMs: number, limit: View): View {
  return clampView({ start: view.start + deltaMs, end: view.end + deltaMs }, limit);
}

/** The smallest pan that brings `t` on screen (with a 5 % margin), inside `limit`. */
export function revealTime(view: View, t: number, limit: View): View {
  const margin = spanOf(view) * 0.05;
  if (t < view.start + margin) return panView(view, t - margin - view.start, limit);
  if (t > view.end - margin) return panView(view, t + margin - view.end, limit);
  return view;
}

/** Merge overlapping or touching spans, sorted by start; empty and malformed ones are dropped. */
export function normalizeSpans(spans: Span[]): Span[] {
  const s = spans.filter((x) => Number.isFinite(x.start) && Number.isFinite(x.end) && x.end > x.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last && x.start <= last.end) last.end = Math.max(last.end, x.end);
    else out.push({ ...x });
  }
  return out;
}

/** Parse a spans.json body ({"camera": …, "spans": [{"start": ISO, "end": ISO}, …]}). */
export function parseSpans(body: unknown): Span[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { spans?: unknown }).spans)) {
    throw new Error('not a spans.json response');
  }
  const out: Span[] = [];
  for (const s of (body as { spans: unknown[] }).spans) {
    if (typeof s !== 'object' || s === null) continue;
    const { start, end } = s as { start?: unknown; end?: unknown };
    if (typeof start !== 'string' || typeof end !== 'string') continue;
    out.push({ start: Date.parse(start), end: Date.parse(end) });
  }
  return normalizeSpans(out);
}

export type PieceKind = 'recorded' | 'hole' | 'future';

/** One drawn piece of the bar. */
export interface Piece {
  kind: PieceKind;
  start: number;
  end: number;
  x: number;
  w: number;
}

/**
 * The bar's pieces for `view`: recorded runs, the holes between them (up to `now`), and
 * the future after `now`. A recorded run narrower than a pixel is drawn one pixel wide, so
 * that a short recording never disappears at the day's zoom.
 */
export function layoutBar(spans: Span[], view: View, width: number, now: number): Piece[] {
  const out: Piece[] = [];
  const piece = (kind: PieceKind, start: number, end: number, minW = 0) => {
    const a = Math.max(start, view.start);
    const b = Math.min(end, view.end);
    if (b <= a) return;
    const x = timeToX(a, view, width);
    const w = Math.max(minW, timeToX(b, view, width) - x);
    if (w > 0) out.push({ kind, start: a, end: b, x, w });
  };
  const past = Math.min(now, view.end);
  let cursor = view.start;
  for (const s of normalizeSpans(spans)) {
    if (s.end <= view.start) continue;
    if (s.start >= view.end) break;
    if (s.start > cursor) piece('hole', cursor, Math.min(s.start, past));
    piece('recorded', s.start, s.end, 1);
    cursor = Math.max(cursor, s.end);
  }
  if (cursor < past) piece('hole', cursor, past);
  if (now < view.end) piece('future', Math.max(now, view.start), view.end);
  return out;
}

/** Whether `t` is inside a recorded span. */
export function isRecorded(spans: Span[], t: number): boolean {
  return spans.some((s) => t >= s.start && t < s.end);
}

/** The recorded time nearest to `t`: t itself, or the edge of the closest span (null: nothing recorded). */
export function nearestRecorded(spans: Span[], t: number): number | null {
  let best: number | null = null;
  for (const s of spans) {
    const c = t < s.start ? s.start : t >= s.end ? s.end - 1000 : t;
    if (best === null || Math.abs(c - t) < Math.abs(best - t)) best = Math.max(s.start, c);
  }
  return best;
}

const TICK_STEPS = [
  10_000,
  15_000,
  30_000,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
];

export interface Tick {
  t: number;
  x: number;
}

/**
 * Tick marks at least `minGapPx` apart, on round local times (`tzOffsetMin` as
 * Date.getTimezoneOffset() gives it: minutes to add to local time to get UTC).
 */
export function ticks(view: View, width: number, tzOffsetMin: number, minGapPx = 80): { step: number; ticks: Tick[] } {
  const span = spanOf(view);
  if (span <= 0 || width <= 0) return { step: HOUR, ticks: [] };
  const step = TICK_STEPS.find((s) => (s / span) * width >= minGapPx) ?? DAY;
  const shift = -tzOffsetMin * MINUTE; // local = utc + shift
  const first = Math.ceil((view.start + shift) / step) * step - shift;
  const out: Tick[] = [];
  for (let t = first; t <= view.end; t += step) out.push({ t, x: timeToX(t, view, width) });
  return { step, ticks: out };
}

/** A time as the bar labels it: HH:MM, with seconds when the step is under a minute. */
export function formatClock(t: number, withSeconds: boolean): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return withSeconds ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : `${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "24 h", "3 h", "45 min", "2 min": the zoom level in words. */
export function formatSpan(ms: number): string {
  if (ms >= HOUR) {
    const h = ms / HOUR;
    return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
  }
  const m = ms / MINUTE;
  return `${Number.isInteger(m) ? m : m.toFixed(1)} min`;
}

/** How far an arrow key moves the cursor: a 1/60 of the view, at least one second. */
export function keyStep(view: View, big = false): number {
  const s = Math.max(1000, Math.round(spanOf(view) / 60));
  return big ? s * 10 : s;
}

/**
 * The time a hover thumbnail asks for: rounded to a 1/200 of the view (at least 2 s), so
 * that moving the pointer a little asks for the same picture (the browser and the origin's
 * per-keyframe cache answer it).
 */
export function snapshotTime(t: number, view: View): number {
  const q = Math.max(2000, spanOf(view) / 200);
  return Math.round(t / q) * q;
}

/** A URL relative to `base` with `params` added, keeping base's query (its ?token=). */
export function withParams(base: string, file: string, params: Record<string, string>): string {
  const b = new URL(base, 'http://x/');
  const u = new URL(file, b);
  for (const [k, v] of b.searchParams) if (!u.searchParams.has(k)) u.searchParams.set(k, v);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  // A relative base stays relative (the page resolves it).
  return /^[a-z]+:/i.test(base) ? u.href : `${u.pathname}${u.search}`;
}

const iso = (t: number) => new Date(t).toISOString();

/** /vod/<camera>/index.m3u8 for playing from `t` (vodBase: the camera's /vod/<camera>/ URL). */
export function vodPlaylistUrl(vodBase: string, t: number, windowMs = VOD_WINDOW_MS): string {
  return withParams(vodBase, 'index.m3u8', { start: iso(t), end: iso(t + windowMs) });
}

export function spansUrl(vodBase: string, range: View): string {
  return withParams(vodBase, 'spans.json', { start: iso(range.start), end: iso(range.end) });
}

export function vodSnapshotUrl(vodBase: string, t: number): string {
  return withParams(vodBase, 'snapshot.jpg', { t: iso(t) });
}

/** A selection as the clip route takes it: ordered, at most MAX_CLIP_MS (cut at the end). */
export function clipRange(a: number, b: number): { start: number; end: number; cut: boolean } {
  const start = Math.min(a, b);
  const end = Math.max(a, b);
  return end - start > MAX_CLIP_MS ? { start, end: start + MAX_CLIP_MS, cut: true } : { start, end, cut: false };
}

export function clipUrl(vodBase: string, start: number, end: number): string {
  return withParams(vodBase, 'clip.mp4', { start: iso(start), end: iso(end) });
}

/** The token a URL carries as ?token= (the dashboard puts its token on every vod URL), or null. */
export function urlToken(url: string): string | null {
  try {
    return new URL(url, 'http://x/').searchParams.get('token') || null;
  } catch {
    return null;
  }
}

/**
 * "Share": POST to the very URL the Clip link downloads (token and all); the origin builds
 * the MP4 and stores it in its remote store (docs/web.md, "Timeline"). The token goes as a
 * bearer header too, as for /api/cameras.
 */
export function clipShareRequest(vodBase: string, start: number, end: number): { url: string; init: RequestInit } {
  const url = clipUrl(vodBase, start, end);
  const token = urlToken(url);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return { url, init: { method: 'POST', headers, cache: 'no-store' } };
}

/** What a share came to: the stored clip's public link, or the words to show. */
export type ShareOutcome = { ok: true; url: string; name: string | null } | { ok: false; message: string };

/** The longest origin answer shown as it is (a proxy's HTML page is not worth reading). */
export const SHARE_MESSAGE_MAX = 300;

/**
 * Read the answer to the share POST: 201 carries JSON with `url`; anything else is the
 * origin's text ("409 no remote storage …", "502 the clip was built but not stored: …"),
 * trimmed, or "HTTP <status>" when it has none worth showing.
 */
export function parseShareAnswer(status: number, body: string): ShareOutcome {
  if (status === 201) {
    try {
      const j = JSON.parse(body) as { url?: unknown; name?: unknown };
      if (typeof j === 'object' && j !== null && typeof j.url === 'string' && j.url) {
        return { ok: true, url: j.url, name: typeof j.name === 'string' ? j.name : null };
      }
    } catch {
      /* said below */
    }
    return { ok: false, message: 'The clip was stored, but the answer has no link' };
  }
  const text = body.trim().replace(/\s+/g, ' ');
  if (!text || text.startsWith('<')) return { ok: false, message: `HTTP ${status}` };
  return { ok: false, message: text.length > SHARE_MESSAGE_MAX ? `${text.slice(0, SHARE_MESSAGE_MAX - 1)}…` : text };
}

/** A failed share request (network, not an answer) in words: the error's message, never its stack. */
export function shareFailure(err: unknown): string {
  const m = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  const line = m.split('\n')[0].trim();
  return `Cannot share the clip: ${line || 'the request failed'}`;
}

/** A fragment of the VOD playlist as hls.js places it: media time `start`/`duration` (s), its PROGRAM-DATE-TIME (ms). */
export interface Frag {
  start: number;
  duration: number;
  programDateTime: number | null;
}

/**
 * The media position (s) that shows wall-clock time `t`: inside the fragment that holds it,
 * else the start of the first fragment after it (t in a hole); null when t is after them all.
 */
export function positionFor(frags: Frag[], t: number): number | null {
  for (const f of frags) {
    if (f.programDateTime === null) continue;
    const end = f.programDateTime + f.duration * 1000;
    if (t < f.programDateTime) return f.start;
    if (t < end) return f.start + (t - f.programDateTime) / 1000;
  }
  return null;
}

/** The wall-clock time shown at media position `pos` (s), or null. */
export function timeAt(frags: Frag[], pos: number): number | null {
  for (const f of frags) {
    if (f.programDateTime === null) continue;
    if (pos >= f.start && pos < f.start + f.duration) return f.programDateTime + (pos - f.start) * 1000;
  }
  return null;
}
