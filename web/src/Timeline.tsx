// Timeline: the enlarged tile's bar of what a camera has recorded (docs/web.md, "Timeline").
//
// - 24 hours up to now by default, holes shown; zoom down to one minute across (buttons,
//   + / - keys, the mouse wheel around the pointer), pan with the arrow buttons.
// - Hovering (or moving the keyboard cursor) shows the recorded picture at that time
//   (/vod/<camera>/snapshot.jpg?t=); a click, or Enter, plays from that time (onPlay).
// - Dragging, or Shift+arrows, selects a range; "Clip" downloads it as one MP4
//   (/vod/<camera>/clip.mp4, at most 5 minutes). When the origin has a remote store
//   (canShare), "Share" POSTs the same URL: the origin stores the clip there and answers
//   its public link, shown with a "Copy" button.
// - The bar is a focusable slider: arrows move the cursor (PageUp/PageDown: 10x, Home/End:
//   the oldest time / now), its value text says the time and whether it is recorded.
// What is recorded comes from /vod/<camera>/spans.json, fetched now and every 20 s.

import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import {
  DAY,
  MAX_CLIP_MS,
  clipShareRequest,
  parseShareAnswer,
  shareFailure,
  ZOOM_FACTOR,
  clampView,
  clipRange,
  clipUrl,
  dayView,
  formatClock,
  formatSpan,
  isRecorded,
  keyStep,
  layoutBar,
  panView,
  parseSpans,
  revealTime,
  snapshotTime,
  spanOf,
  spansUrl,
  ticks as makeTicks,
  timeToX,
  vodSnapshotUrl,
  xToTime,
  zoomView,
  MINUTE,
  MAX_SPAN_MS,
  MIN_SPAN_MS,
  type Span,
  type View,
} from './timeline';

export interface TimelineProps {
  cameraName: string;
  /** The camera's /vod/<camera>/ URL (with ?token= when the origin wants one). */
  vodBase: string;
  /** The oldest recording /api/cameras reports (ISO), to allow going back past 24 h. */
  oldest?: string | null;
  /** 'live' while the live picture shows, else 'vod'. */
  mode: 'live' | 'vod';
  /** The wall-clock time on screen while a recording plays. */
  playhead?: number | null;
  onPlay: (t: number) => void;
  onLive: () => void;
  /** The origin can store clips in its remote store (/api/cameras `clip_share`): offer "Share". */
  canShare?: boolean;
  /** Tests: a fixed clock. */
  now?: () => number;
  refreshMs?: number;
}

const DRAG_PX = 4;

/** The "Share" button's request and what came of it. */
type Share = { state: 'idle' } | { state: 'busy' } | { state: 'shared'; url: string } | { state: 'failed'; message: string };

export function Timeline({ cameraName, vodBase, oldest, mode, playhead = null, onPlay, onLive, canShare = false, now: clock = Date.now, refreshMs = 20_000 }: TimelineProps) {
  const [now, setNow] = useState(() => clock());
  const [spans, setSpans] = useState<Span[]>([]);
  const [spansError, setSpansError] = useState<string | null>(null);
  const [view, setView] = useState<View>(() => dayView(clock()));
  const [cursor, setCursor] = useState<number>(() => clock() - MINUTE);
  const [selection, setSelection] = useState<{ a: number; b: number } | null>(null);
  const [hover, setHover] = useState<number | null>(null);
  const [keyPreview, setKeyPreview] = useState(false);
  const [width, setWidth] = useState(1000);
  const [badThumb, setBadThumb] = useState<string | null>(null);
  const barRef = useRef<HTMLDivElement | null>(null);
  const drag = useRef<{ x: number; t: number; moved: boolean } | null>(null);
  // The view follows the live edge until the user moves it away from there.
  const follow = useRef(true);
  const hintId = useId();
  const [share, setShare] = useState<Share>({ state: 'idle' });
  const [copyNote, setCopyNote] = useState<string | null>(null);
  const shareAbort = useRef<AbortController | null>(null);
  const shareRef = useRef<HTMLButtonElement | null>(null);
  const linkRef = useRef<HTMLInputElement | null>(null);
  // Where focus goes once a share ends (only if it was on the Share button, or lost with it).
  const focusAfterShare = useRef<'link' | 'share' | null>(null);

  const oldestMs = oldest ? Date.parse(oldest) : NaN;
  const limit = useMemo<View>(() => ({ start: Math.min(now - DAY, Number.isFinite(oldestMs) ? oldestMs : now - DAY), end: now }), [now, oldestMs]);

  // The clock, and what is recorded.
  useEffect(() => {
    let stopped = false;
    const abort = new AbortController();
    const load = async () => {
      const t = clock();
      setNow(t);
      const range = { start: Math.min(t - DAY, Number.isFinite(oldestMs) ? oldestMs : t - DAY), end: t + MINUTE };
      try {
        const res = await fetch(spansUrl(vodBase, range), { cache: 'no-store', signal: abort.signal });
        if (stopped) return;
        if (res.status === 404) {
          setSpans([]);
          setSpansError(null);
        } else if (!res.ok) {
          setSpansError(`Cannot load the recordings (HTTP ${res.status})`);
        } else {
          setSpans(parseSpans(await res.json()));
          setSpansError(null);
        }
      } catch (err) {
        if (!stopped) setSpansError(`Cannot load the recordings: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    void load();
    const timer = setInterval(load, refreshMs);
    const tick = setInterval(() => setNow(clock()), 5000);
    return () => {
      stopped = true;
      abort.abort();
      clearInterval(timer);
      clearInterval(tick);
    };
  }, [vodBase, oldestMs, refreshMs, clock]);

  // Slide with the live edge while following it.
  useEffect(() => {
    if (follow.current) setView((v) => clampView({ start: now - spanOf(v), end: now }, limit));
  }, [now, limit]);

  // The bar's width in pixels (tick spacing, one-pixel minimum of short recordings).
  useEffect(() => {
    const el = barRef.current;
    if (!el) return undefined;
    const measure = () => setWidth(Math.max(1, el.getBoundingClientRect().width || 1000));
    measure();
    if (typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const changeView = useCallback(
    (next: View) => {
      follow.current = next.end >= limit.end - 1000;
      setView(next);
    },
    [limit.end],
  );

  const zoom = useCallback((factor: number, anchor: number) => changeView(zoomView(view, factor, anchor, limit)), [changeView, view, limit]);

  // The wheel zooms around the pointer (a native listener: React's is passive and cannot keep the page from scrolling).
  useEffect(() => {
    const el = barRef.current;
    if (!el) return undefined;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      const t = xToTime(e.clientX - r.left, view, r.width);
      if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) changeView(panView(view, (e.deltaX / Math.max(1, r.width)) * spanOf(view), limit));
      else if (e.deltaY !== 0) zoom(e.deltaY < 0 ? 1 / ZOOM_FACTOR : ZOOM_FACTOR, t);
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [view, limit, zoom, changeView]);

  const timeAtEvent = (e: { clientX: number }) => {
    const el = barRef.current;
    if (!el) return view.start;
    const r = el.getBoundingClientRect();
    return xToTime(e.clientX - r.left, view, r.width || width);
  };

  const moveCursor = (t: number, extend: boolean) => {
    const c = Math.min(limit.end, Math.max(limit.start, t));
    if (extend) setSelection((s) => ({ a: s ? s.a : cursor, b: c }));
    setCursor(c);
    setKeyPreview(true);
    changeView(revealTime(view, c, limit));
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const step = keyStep(view, e.key === 'PageUp' || e.key === 'PageDown');
    switch (e.key) {
      case 'ArrowLeft':
      case 'ArrowDown':
      case 'PageDown':
        moveCursor(cursor - step, e.shiftKey);
        break;
      case 'ArrowRight':
      case 'ArrowUp':
      case 'PageUp':
        moveCursor(cursor + step, e.shiftKey);
        break;
      case 'Home':
        moveCursor(spans.length ? spans[0].start : limit.start, e.shiftKey);
        break;
      case 'End':
        moveCursor(limit.end, e.shiftKey);
        break;
      case 'Enter':
      case ' ':
        onPlay(cursor);
        break;
      case '+':
      case '=':
        zoom(1 / ZOOM_FACTOR, cursor);
        break;
      case '-':
      case '_':
        zoom(ZOOM_FACTOR, cursor);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, t: timeAtEvent(e), moved: false };
    try {
      e.currentTarget.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events have no pointer to capture */
    }
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const t = timeAtEvent(e);
    setHover(t);
    setKeyPreview(false);
    const d = drag.current;
    if (d && (d.moved || Math.abs(e.clientX - d.x) > DRAG_PX)) {
      d.moved = true;
      setSelection({ a: d.t, b: t });
    }
  };
  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    drag.current = null;
    if (!d) return;
    const t = timeAtEvent(e);
    if (d.moved) {
      setSelection({ a: d.t, b: t });
      setCursor(t);
    } else {
      setCursor(t);
      onPlay(t);
    }
  };

  const pieces = layoutBar(spans, view, width, now);
  const { step, ticks } = makeTicks(view, width, new Date(view.start).getTimezoneOffset());
  const pct = (x: number) => `${(x / width) * 100}%`;
  const xOf = (t: number) => timeToX(t, view, width);
  const onBar = (t: number | null) => t !== null && t >= view.start && t <= view.end;

  const preview = hover ?? (keyPreview ? cursor : null);
  const previewRecorded = preview !== null && isRecorded(spans, preview);
  const thumb = preview !== null && previewRecorded ? vodSnapshotUrl(vodBase, snapshotTime(preview, view)) : null;
  const clip = selection && Math.abs(selection.b - selection.a) >= 1000 ? clipRange(selection.a, selection.b) : null;
  const fullDate = (t: number) => new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  // A share belongs to one range: a new selection, clearing it, or closing drops it.
  const clipKey = clip ? `${clip.start}-${clip.end}` : '';
  useEffect(() => {
    setShare({ state: 'idle' });
    setCopyNote(null);
    return () => {
      shareAbort.current?.abort();
      shareAbort.current = null;
    };
  }, [clipKey, vodBase]);

  useEffect(() => {
    const where = focusAfterShare.current;
    focusAfterShare.current = null;
    if (where === 'link') linkRef.current?.focus();
    else if (where === 'share') shareRef.current?.focus();
  }, [share]);

  const onShare = async () => {
    if (!clip || share.state === 'busy') return;
    shareAbort.current?.abort();
    const abort = new AbortController();
    shareAbort.current = abort;
    const { url, init } = clipShareRequest(vodBase, clip.start, clip.end);
    setShare({ state: 'busy' });
    setCopyNote(null);
    let next: Share;
    try {
      const res = await fetch(url, { ...init, signal: abort.signal });
      const answer = parseShareAnswer(res.status, await res.text());
      next = answer.ok ? { state: 'shared', url: answer.url } : { state: 'failed', message: answer.message };
    } catch (err) {
      next = { state: 'failed', message: shareFailure(err) };
    }
    if (abort.signal.aborted) return;
    shareAbort.current = null;
    // The disabled button lost focus (or kept it): hand it to the link, or back to Share.
    const active = document.activeElement;
    if (!active || active === document.body || active === shareRef.current) focusAfterShare.current = next.state === 'shared' ? 'link' : 'share';
    setShare(next);
  };

  const onCopy = async (url: string) => {
    try {
      // Absent outside a secure context (http://edge-box:8080): that throws too.
      await navigator.clipboard.writeText(url);
      setCopyNote('Copied');
    } catch {
      setCopyNote('Select and copy the link');
      linkRef.current?.focus();
    }
  };

  const sharing = share.state === 'busy';
  const shareNote = share.state === 'failed' ? share.message : share.state === 'shared' ? copyNote : null;
  const showShare = canShare && clip !== null;

  return (
    <div className="timeline" role="group" aria-label={`Recordings of ${cameraName}`}>
      <div className="timeline-controls">
        <button type="button" className="tl-btn tl-live" aria-pressed={mode === 'live'} onClick={onLive}>
          Live
        </button>
        <button type="button" className="tl-btn" aria-label="Earlier" onClick={() => changeView(panView(view, -spanOf(view) / 2, limit))} disabled={view.start <= limit.start}>
          ◀
        </button>
        <button type="button" className="tl-btn" aria-label="Later" onClick={() => changeView(panView(view, spanOf(view) / 2, limit))} disabled={view.end >= limit.end}>
          ▶
        </button>
        <button type="button" className="tl-btn" aria-label="Zoom out" onClick={() => zoom(ZOOM_FACTOR, cursor)} disabled={spanOf(view) >= Math.min(MAX_SPAN_MS, spanOf(limit))}>
          −
        </button>
        <button type="button" className="tl-btn" aria-label="Zoom in" onClick={() => zoom(1 / ZOOM_FACTOR, cursor)} disabled={spanOf(view) <= MIN_SPAN_MS}>
          +
        </button>
        <span className="tl-span" aria-live="polite" data-testid="tl-span">
          {formatSpan(spanOf(view))}
        </span>
        <span className="tl-where">
          {mode === 'vod' && playhead !== null ? `Playing ${fullDate(playhead)}` : mode === 'vod' ? 'Loading recording…' : 'Live'}
        </span>
        {clip ? (
          <>
            <a className="tl-btn tl-clip" href={clipUrl(vodBase, clip.start, clip.end)} download title={clip.cut ? `A clip is at most ${MAX_CLIP_MS / MINUTE} minutes: cut at the end` : undefined}>
              Clip {formatClock(clip.start, true)}–{formatClock(clip.end, true)}
              {clip.cut ? ' (5 min max)' : ''}
            </a>
            {canShare ? (
              <button
                ref={shareRef}
                type="button"
                className="tl-btn tl-share"
                onClick={() => void onShare()}
                disabled={sharing}
                aria-busy={sharing}
                title="Store this clip in the remote store and show its link"
              >
                {sharing ? 'Sharing…' : 'Share'}
              </button>
            ) : null}
            <button type="button" className="tl-btn" aria-label="Clear the selection" onClick={() => setSelection(null)}>
              ×
            </button>
          </>
        ) : (
          <button type="button" className="tl-btn tl-clip" aria-disabled="true" title="Select a range first: drag on the bar, or Shift+arrow keys" onClick={() => undefined}>
            Clip
          </button>
        )}
      </div>
      <div
        ref={barRef}
        className="timeline-bar"
        role="slider"
        tabIndex={0}
        aria-label={`Timeline of ${cameraName}`}
        aria-describedby={hintId}
        aria-valuemin={Math.floor(limit.start / 1000)}
        aria-valuemax={Math.floor(limit.end / 1000)}
        aria-valuenow={Math.floor(cursor / 1000)}
        aria-valuetext={`${fullDate(cursor)}, ${isRecorded(spans, cursor) ? 'recorded' : 'not recorded'}`}
        data-view-start={new Date(view.start).toISOString()}
        data-view-end={new Date(view.end).toISOString()}
        onKeyDown={onKeyDown}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerLeave={() => setHover(null)}
        onBlur={() => setKeyPreview(false)}
      >
        {pieces.map((p) => (
          <div key={`${p.kind}-${p.start}`} className={`tl-piece tl-${p.kind}`} style={{ left: pct(p.x), width: pct(p.w) }} data-start={new Date(p.start).toISOString()} data-end={new Date(p.end).toISOString()} />
        ))}
        {selection ? (
          <div className="tl-selection" style={{ left: pct(Math.max(0, xOf(Math.min(selection.a, selection.b)))), width: pct(Math.min(width, Math.abs(xOf(selection.b) - xOf(selection.a)))) }} />
        ) : null}
        {ticks.map((t) => (
          <div key={t.t} className="tl-tick" style={{ left: pct(t.x) }}>
            <span>{formatClock(t.t, step < MINUTE)}</span>
          </div>
        ))}
        {onBar(cursor) ? <div className="tl-cursor" style={{ left: pct(xOf(cursor)) }} /> : null}
        {mode === 'vod' && onBar(playhead) ? <div className="tl-playhead" style={{ left: pct(xOf(playhead as number)) }} data-testid="tl-playhead" /> : null}
        {preview !== null && onBar(preview) ? (
          <div className="tl-preview" style={{ left: `clamp(80px, ${pct(xOf(preview))}, calc(100% - 80px))` }} aria-hidden="true">
            {thumb && thumb !== badThumb ? <img src={thumb} alt="" width={160} height={90} onError={() => setBadThumb(thumb)} /> : <div className="tl-nothumb">{previewRecorded ? 'No picture' : 'Not recorded'}</div>}
            <span>{formatClock(preview, true)}</span>
          </div>
        ) : null}
      </div>
      <div className="tl-foot">
        {showShare && share.state === 'shared' ? (
          <>
            <input
              ref={linkRef}
              className="tl-link"
              type="text"
              readOnly
              value={share.url}
              aria-label="Link to the shared clip"
              onFocus={(e) => e.currentTarget.select()}
            />
            <button type="button" className="tl-btn" title="Copy the link" onClick={() => void onCopy(share.url)}>
              Copy
            </button>
          </>
        ) : null}
        <p id={hintId} className="tl-hint" hidden={!spansError && showShare && (share.state === 'shared' || share.state === 'failed')}>
          {spansError ?? 'Click or press Enter to play from a time. Arrow keys move, + and − zoom, drag or Shift+arrows select a clip.'}
        </p>
        {/* After the hint: a live region present before it speaks, at no cost to the layout while empty. */}
        {showShare ? (
          <span className={`tl-share-status${share.state === 'failed' ? ' tl-share-error' : ''}`} role="status" title={shareNote ?? undefined}>
            {shareNote}
          </span>
        ) : null}
      </div>
    </div>
  );
}

export default Timeline;
