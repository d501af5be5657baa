import { useCallback, useEffect, useRef, useState } from 'react';
import type { PlayerPhase, PlayerStats } from './HLSPlayer';
import { LivePlayer, PROTOCOL_LABEL, type LivePlayerHandle } from './LivePlayer';
import type { Camera, CameraStatus } from './cameras';
import type { ProtocolChoice } from './protocol';
import { Timeline } from './Timeline';
import { VodPlayer } from './VodPlayer';
import { vodPlaylistUrl } from './timeline';

export type Badge = 'live' | 'offline' | 'connecting';

/**
 * What the tile's badge says: the player's own view wins; the origin's status fills in. A
 * camera whose shop box stopped reporting (Supabase `last_seen_at` stale) is offline unless
 * frames are arriving right now: a stalled player there is a dead box, not a hiccup.
 */
export function badgeFor(apiStatus: CameraStatus, phase: PlayerPhase, stale = false): Badge {
  if (phase === 'live') return 'live';
  if (stale) return 'offline';
  if (phase === 'stalled') return 'live';
  if (phase === 'offline') return 'offline';
  if (apiStatus === 'offline') return 'offline';
  return 'connecting';
}

const BADGE_TEXT: Record<Badge, string> = { live: 'Live', offline: 'Offline', connecting: 'Connecting' };

/**
 * The tile's poster: the origin's newest snapshot, with a parameter that changes once a
 * minute so that a browser that cached it still gets a recent picture (and a hundred tiles
 * asking within the same minute share the origin's cached encode).
 */
export function posterUrl(snapshotUrl: string | undefined, now: number = Date.now()): string | undefined {
  if (!snapshotUrl) return undefined;
  return `${snapshotUrl}${snapshotUrl.includes('?') ? '&' : '?'}m=${Math.floor(now / 60_000)}`;
}

/** "14:03" today, else "3 Dec 14:03" (the viewer's locale and time zone). */
export function formatSeen(iso: string, now: Date = new Date()): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const time = t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (t.toDateString() === now.toDateString()) return time;
  return `${t.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${time}`;
}

/** The offline overlay's words: since when, when the shop box told us. */
export function offlineText(camera: Pick<Camera, 'stale' | 'lastSeenAt'>, now: Date = new Date()): string {
  const since = camera.lastSeenAt ? formatSeen(camera.lastSeenAt, now) : '';
  if (camera.stale) return since ? `No report from the shop since ${since}` : 'No report from the shop';
  return since ? `No signal since ${since} · reconnecting automatically` : 'No signal · reconnecting automatically';
}

export function formatSeconds(ms: number | null | undefined, digits = 1): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  return `${(ms / 1000).toFixed(digits)} s`;
}

export interface CameraTileProps {
  camera: Camera;
  expanded: boolean;
  inert?: boolean;
  onToggle: (id: string | null) => void;
  /** How to play (default 'auto': WebRTC, falling back to LL-HLS / HLS). */
  protocol?: ProtocolChoice;
  /** Debug hook: registers the player handle (tests, console). */
  register?: (id: string, handle: LivePlayerHandle | null) => void;
}

export function CameraTile({ camera, expanded, inert, onToggle, register, protocol = 'auto' }: CameraTileProps) {
  const [phase, setPhase] = useState<PlayerPhase>('idle');
  const [stats, setStats] = useState<PlayerStats | null>(null);
  const openRef = useRef<HTMLButtonElement | null>(null);
  const closeRef = useRef<HTMLButtonElement | null>(null);
  const wasExpanded = useRef(false);
  // Playing a recording instead of the live picture (enlarged tile, timeline): from `t`.
  const [vod, setVod] = useState<{ t: number; n: number } | null>(null);
  const [playhead, setPlayhead] = useState<number | null>(null);
  const vodBase = camera.recording?.enabled ? camera.recording.vodBase : null;
  const showTimeline = expanded && !!vodBase;

  // Closing the tile returns it to live.
  useEffect(() => {
    if (!expanded) {
      setVod(null);
      setPlayhead(null);
    }
  }, [expanded]);

  const playFrom = useCallback((t: number) => {
    setPlayhead(null);
    setVod((v) => ({ t: Math.round(t), n: (v?.n ?? 0) + 1 }));
  }, []);
  const goLive = useCallback(() => {
    setVod(null);
    setPlayhead(null);
  }, []);

  useEffect(() => {
    if (expanded) closeRef.current?.focus();
    else if (wasExpanded.current) openRef.current?.focus();
    wasExpanded.current = expanded;
  }, [expanded]);

  const setHandle = useCallback(
    (h: LivePlayerHandle | null) => {
      register?.(camera.id, h);
    },
    [camera.id, register],
  );

  const badge = badgeFor(camera.status, phase, camera.stale);
  const latencyMs = badge === 'live' ? stats?.latencyMs ?? null : null;
  const bufferS = badge === 'live' ? stats?.bufferAheadS ?? null : null;
  // The protocol actually delivering frames (stats), not just the rung being tried.
  const playing = badge === 'live' ? stats?.protocol ?? null : null;
  const titleId = `tile-title-${camera.id}`;

  return (
    <li
      className={`tile${expanded ? ' tile-expanded' : ''}`}
      data-camera={camera.id}
      data-state={badge}
      data-latency-ms={latencyMs === null ? '' : String(Math.round(latencyMs))}
      data-protocol={playing ?? ''}
      data-stale={camera.stale ? 'true' : undefined}
      data-mode={vod && showTimeline ? 'vod' : 'live'}
      inert={inert || undefined}
    >
      <div
        className={`tile-frame${showTimeline ? ' tile-frame-timeline' : ''}`}
        role={expanded ? 'dialog' : 'group'}
        aria-modal={expanded ? true : undefined}
        aria-labelledby={titleId}
      >
        <div className="tile-stage">
        {vod && showTimeline && vodBase ? (
          <VodPlayer
            key={vod.n}
            src={vodPlaylistUrl(vodBase, vod.t)}
            target={vod.t}
            onTime={setPlayhead}
            title={`${camera.name} recording`}
            className="tile-player"
          />
        ) : (
        <LivePlayer
          ref={setHandle}
          src={camera.playlistUrl}
          protocol={protocol}
          whepUrl={camera.whepUrl}
          profile={camera.profile}
          hlsConfig={camera.hls}
          onStats={setStats}
          onStateChange={setPhase}
          showStatus={false}
          controls={expanded}
          title={`${camera.name} live video`}
          poster={posterUrl(camera.snapshotUrl)}
          className="tile-player"
          style={{ position: 'absolute', inset: 0 }}
        />
        )}
        </div>
        <div className="tile-overlay">
          <span className="tile-name" id={titleId}>
            {camera.name}
          </span>
          {vod && showTimeline ? (
            <span className="badge badge-vod" data-testid="badge">
              Playback
            </span>
          ) : (
          <span className={`badge badge-${badge}`} data-testid="badge">
            <span className="badge-dot" aria-hidden="true" />
            {BADGE_TEXT[badge]}
          </span>
          )}
          {badge === 'live' && !(vod && showTimeline) ? (
            <span className="tile-stats" title={playing === 'webrtc' ? 'Protocol · glass-to-glass latency · jitter buffer' : 'Protocol · glass-to-glass latency · buffer ahead'}>
              {playing ? (
                <span className={`tile-proto tile-proto-${playing}`} data-testid="protocol">
                  {PROTOCOL_LABEL[playing]}
                </span>
              ) : null}
              {playing ? ' · ' : null}
              <abbr title="glass-to-glass latency">lat</abbr> {formatSeconds(latencyMs, playing === 'webrtc' ? 2 : 1)} ·{' '}
              <abbr title={playing === 'webrtc' ? 'jitter buffer' : 'buffer ahead'}>{playing === 'webrtc' ? 'jb' : 'buf'}</abbr>{' '}
              {bufferS === null ? '–' : playing === 'webrtc' ? `${Math.round(bufferS * 1000)} ms` : `${bufferS.toFixed(1)} s`}
            </span>
          ) : null}
          {badge !== 'live' && phase !== 'idle' && stats?.reason ? (
            <span className="tile-reason">{stats.reason}</span>
          ) : null}
        </div>
        {badge === 'offline' && !(vod && showTimeline) ? (
          <div className="tile-offline" aria-hidden="true">
            {offlineText(camera)}
          </div>
        ) : null}
        {showTimeline && vodBase ? (
          <Timeline
            cameraName={camera.name}
            vodBase={vodBase}
            oldest={camera.recording?.oldest}
            mode={vod ? 'vod' : 'live'}
            playhead={playhead}
            onPlay={playFrom}
            onLive={goLive}
            canShare={camera.clipShare === true}
          />
        ) : null}
        {expanded ? (
          <button ref={closeRef} type="button" className="tile-close" aria-label={`Close ${camera.name}`} onClick={() => onToggle(null)}>
            ×
          </button>
        ) : (
          <button
            ref={openRef}
            type="button"
            className="tile-open"
            aria-label={`Enlarge ${camera.name} (${BADGE_TEXT[badge]})`}
            aria-haspopup="dialog"
            onClick={() => onToggle(camera.id)}
          />
        )}
      </div>
    </li>
  );
}
