// HLSPlayer: a drop-in React component that plays a live HLS stream with hls.js.
//
//   <HLSPlayer src="/live/cam_floor/stream.m3u8" profile="low" onStats={setStats} />
//
// - Defaults are the reference design's hls.js settings exactly (profiles.ts,
//   REFERENCE_HLS_CONFIG); `profile` picks a row of the profile table; `hlsConfig`
//   overrides single settings (e.g. the `hls` object served by /api/cameras).
// - Recovers by itself (recovery.ts): network retries with capped backoff, hls.js media
//   recovery, "offline" when the camera stops publishing, automatic resume when it returns.
// - Falls back to native HLS where MSE is missing (Safari on iPhone).
// - Reports live stats (glass-to-glass latency from hls.playingDate, buffer, bitrate,
//   dropped frames, stalls) through `onStats`, once per `statsIntervalMs`.
// - Unmounting destroys hls.js and removes every listener and timer it made.

import {
  forwardRef,
  useEffect,
  useImperativeHandle,
  useMemo,
  useRef,
  useState,
  type CSSProperties,
  type VideoHTMLAttributes,
} from 'react';
import type Hls from 'hls.js';
import { resolveHlsConfig, type PlayerHlsConfig, type ProfileName } from './profiles';
import { PlayerController, type PlayerStats } from './player-controller';
import type { PlayerPhase, RecoveryOptions } from './recovery';

export type { PlayerStats } from './player-controller';
export type { PlayerPhase } from './recovery';

export interface HLSPlayerProps {
  /** Playlist URL (absolute, or relative to the page). */
  src: string;
  /** Latency profile; omitted = the reference design's settings (same as "low"). */
  profile?: ProfileName;
  /** hls.js settings that override the profile's (undefined/null deletes a setting). */
  hlsConfig?: Record<string, unknown> | null;
  /**
   * - omitted: play `profile` + `hlsConfig` as given;
   * - `'ll-hls'`: read the playlist first; when it is LL-HLS (EXT-X-PART-INF, PART-HOLD-BACK)
   *   play it with the `ll` row (+ `hlsConfig`), otherwise with `profile` (+ `hlsConfig`);
   * - `'hls'`: classic HLS: whole segments, `lowLatencyMode: false`, `profile` as given.
   * WebRTC and the automatic choice are LivePlayer's (LivePlayer.tsx).
   */
  protocol?: 'll-hls' | 'hls';
  /** Called with the LL detection's answer (protocol 'll-hls' only). */
  onPlaylistKind?: (lowLatency: boolean) => void;
  /** Called with fresh stats every statsIntervalMs (default 1000). */
  onStats?: (stats: PlayerStats) => void;
  /** Called when the player's phase changes (connecting, live, stalled, recovering, offline). */
  onStateChange?: (phase: PlayerPhase, reason: string | null) => void;
  /** Receives the hls.js instance after it is made, and null when it is destroyed. */
  onHls?: (hls: Hls | null) => void;
  statsIntervalMs?: number;
  /** Default true: browsers only autoplay muted video. */
  muted?: boolean;
  /** Default true. */
  autoPlay?: boolean;
  controls?: boolean;
  /** Default true (no fullscreen takeover on iPhone). */
  playsInline?: boolean;
  poster?: string;
  /** "auto" (default): hls.js where MSE exists, else native HLS. */
  engine?: 'auto' | 'hls.js' | 'native';
  /** Tuning of the recovery state machine (backoff, offline thresholds). */
  recovery?: Partial<RecoveryOptions>;
  /** Show a small status text over the video while not live (default true). */
  showStatus?: boolean;
  className?: string;
  style?: CSSProperties;
  /** Accessible name of the video. */
  title?: string;
  videoProps?: Omit<VideoHTMLAttributes<HTMLVideoElement>, 'src' | 'muted' | 'autoPlay' | 'controls'>;
}

export interface HLSPlayerHandle {
  /** Stats computed right now. */
  getStats(): PlayerStats | null;
  /** The hls.js config in use (after LL detection), null before the player starts. */
  readonly config: PlayerHlsConfig | null;
  readonly hls: Hls | null;
  readonly video: HTMLVideoElement | null;
}

/** What the status overlay says in each phase (LivePlayer shows the same over WebRTC). */
export const PHASE_TEXT: Record<PlayerPhase, string> = {
  idle: '',
  connecting: 'Connecting…',
  live: '',
  stalled: 'Buffering…',
  recovering: 'Reconnecting…',
  offline: 'Offline',
};

export const HLSPlayer = forwardRef<HLSPlayerHandle, HLSPlayerProps>(function HLSPlayer(props, ref) {
  const {
    src,
    profile,
    hlsConfig,
    protocol,
    statsIntervalMs = 1000,
    muted = true,
    autoPlay = true,
    controls = false,
    playsInline = true,
    poster,
    engine = 'auto',
    recovery,
    showStatus = true,
    className,
    style,
    title,
    videoProps,
  } = props;
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const controllerRef = useRef<PlayerController | null>(null);
  const [phase, setPhase] = useState<PlayerPhase>('idle');

  // Latest callbacks, so that a parent re-rendering with new closures does not restart playback.
  const callbacks = useRef(props);
  callbacks.current = props;

  // Restart only when what is played, or how, really changes.
  const hlsConfigKey = JSON.stringify(hlsConfig ?? null);
  const resolved = useMemo(() => resolveForProtocol(protocol, profile, hlsConfig ?? null), [protocol, profile, hlsConfigKey]);
  const configKey = JSON.stringify([resolved.config, resolved.llConfig]);
  const recoveryKey = JSON.stringify(recovery ?? null);

  useEffect(() => {
    const video = videoRef.current;
    if (!video || !src) return undefined;
    for (const w of resolved.warnings) console.warn(`[HLSPlayer] ${w}`);
    const controller = new PlayerController(video, {
      src,
      hlsConfig: resolved.config,
      llHlsConfig: resolved.llConfig,
      onPlaylistKind: (ll) => callbacks.current.onPlaylistKind?.(ll),
      autoPlay,
      engine,
      statsIntervalMs,
      recovery,
      onStats: (s) => callbacks.current.onStats?.(s),
      onPhase: (p, reason) => {
        setPhase(p);
        callbacks.current.onStateChange?.(p, reason);
      },
      onHls: (h) => callbacks.current.onHls?.(h),
    });
    controllerRef.current = controller;
    controller.start();
    return () => {
      controller.destroy();
      if (controllerRef.current === controller) controllerRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [src, configKey, engine, autoPlay, statsIntervalMs, recoveryKey]);

  useImperativeHandle(
    ref,
    () => ({
      getStats: () => controllerRef.current?.getStats() ?? null,
      get config() {
        return controllerRef.current?.config ?? null;
      },
      get hls() {
        return controllerRef.current?.hls ?? null;
      },
      get video() {
        return videoRef.current;
      },
    }),
    [],
  );

  const statusText = PHASE_TEXT[phase];
  return (
    <div className={['hlsplayer', className].filter(Boolean).join(' ')} style={{ position: 'relative', ...style }} data-phase={phase}>
      <video
        {...videoProps}
        ref={videoRef}
        muted={muted}
        autoPlay={autoPlay}
        controls={controls}
        playsInline={playsInline}
        poster={poster}
        title={title}
        aria-label={title}
        style={{ display: 'block', width: '100%', height: '100%', objectFit: 'contain', background: '#000', ...videoProps?.style }}
      />
      {showStatus && statusText ? (
        <div className="hlsplayer-status" role="status" aria-live="polite" style={STATUS_STYLE}>
          {statusText}
        </div>
      ) : null}
    </div>
  );
});

/**
 * The hls.js config(s) for a protocol: `config` is what plays a classic playlist (or every
 * playlist without `protocol`), `llConfig` what plays an LL-HLS one (protocol 'll-hls' only).
 */
export function resolveForProtocol(
  protocol: HLSPlayerProps['protocol'],
  profile: ProfileName | undefined,
  overrides: Record<string, unknown> | null,
): { config: PlayerHlsConfig; llConfig: PlayerHlsConfig | null; warnings: string[] } {
  if (protocol === 'll-hls') {
    const classic = resolveHlsConfig(profile === 'll' ? undefined : profile, overrides);
    const ll = resolveHlsConfig('ll', overrides);
    return { config: classic.config, llConfig: ll.config, warnings: [...new Set([...classic.warnings, ...ll.warnings])] };
  }
  const r = resolveHlsConfig(profile, overrides);
  if (protocol === 'hls') return { config: { ...r.config, lowLatencyMode: false }, llConfig: null, warnings: r.warnings };
  return { config: r.config, llConfig: null, warnings: r.warnings };
}

export const STATUS_STYLE: CSSProperties = {
  position: 'absolute',
  inset: 0,
  display: 'flex',
  alignItems: 'center',
  justifyContent: 'center',
  color: '#fff',
  font: '600 14px/1.2 system-ui, sans-serif',
  textShadow: '0 1px 2px #000',
  pointerEvents: 'none',
};

export default HLSPlayer;
