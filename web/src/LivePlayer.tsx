// LivePlayer: one camera over WebRTC (WHEP), LL-HLS or classic HLS, chosen by `protocol`.
//
//   <LivePlayer src="/live/cam_floor/stream.m3u8" protocol="auto" onStats={setStats} />
//
// - 'auto' (default): WebRTC first; if WHEP answers with an error, or ICE/DTLS do not
//   connect, or no frame shows within 4 s, it falls back to HLS at once: LL-HLS when the
//   playlist has parts, classic HLS when it has none (HLSPlayer protocol="ll-hls" decides
//   from the playlist).  While on HLS it tries WebRTC again in the background after 5, 10,
//   20, 40, 60, 60… s and switches up as soon as a session delivers video.
// - 'webrtc': WebRTC only (retried with the same backoff); 'll-hls' / 'hls': HLSPlayer only.
// - The WHEP endpoint is derived from `src` (`…/live/<camera>/stream.m3u8` -> `…/whep/<camera>`)
//   unless `whepUrl` is given; a `?token=` on `src` is sent as the bearer token.
// - `onStats` reports `protocol` and `latencyMs` for whichever rung plays (WebRTC latency:
//   see whep.ts, webrtcVideoStats).
// All the HLSPlayer props apply to the HLS rungs.

import { forwardRef, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState, type CSSProperties } from 'react';
import type Hls from 'hls.js';
import { HLSPlayer, PHASE_TEXT, STATUS_STYLE, type HLSPlayerHandle, type HLSPlayerProps, type PlayerPhase, type PlayerStats } from './HLSPlayer';
import { LiveController, whepEndpointFor } from './live-controller';
import type { LadderOptions, Protocol, ProtocolChoice } from './protocol';
import type { PlayerHlsConfig } from './profiles';

export type { Protocol, ProtocolChoice } from './protocol';

export interface LivePlayerProps extends Omit<HLSPlayerProps, 'protocol'> {
  /** Default 'auto'. */
  protocol?: ProtocolChoice;
  /** WHEP endpoint; default derived from `src`; null disables WebRTC. */
  whepUrl?: string | null;
  /** Bearer token for WHEP (default: the `token` query parameter of `src`). */
  token?: string | null;
  /** Fallback timings (see protocol.ts, DEFAULT_LADDER_OPTIONS). */
  ladder?: Partial<LadderOptions>;
  /** receiver.jitterBufferTarget for WebRTC, ms (default 0). */
  jitterBufferTargetMs?: number;
  /** Called when the playing protocol changes ('ll-hls' may still turn out classic: see stats.protocol). */
  onProtocol?: (p: Protocol, reason: string | null) => void;
}

export interface LivePlayerHandle extends HLSPlayerHandle {
  /** The ladder's rung: 'webrtc', or the HLS rung ('ll-hls' / 'hls'). */
  readonly protocol: Protocol | null;
  /** The WebRTC peer connection while WebRTC plays. */
  readonly peerConnection: RTCPeerConnection | null;
  /** What the WebRTC latency figure came from: 'estimatedPlayoutTimestamp' (getStats) or 'captureTime' (requestVideoFrameCallback). */
  readonly latencySource: 'estimatedPlayoutTimestamp' | 'captureTime' | null;
}

export const LivePlayer = forwardRef<LivePlayerHandle, LivePlayerProps>(function LivePlayer(props, ref) {
  const {
    src,
    protocol: choice = 'auto',
    whepUrl,
    token,
    ladder,
    jitterBufferTargetMs = 0,
    className,
    style,
    showStatus = true,
    muted = true,
    autoPlay = true,
    controls = false,
    playsInline = true,
    title,
    poster,
    statsIntervalMs = 1000,
    onProtocol: _onProtocol,
    ...hlsProps
  } = props;
  void _onProtocol;
  const callbacks = useRef(props);
  callbacks.current = props;
  const [active, setActive] = useState<Protocol | null>(null);
  const [rtcPhase, setRtcPhase] = useState<PlayerPhase>('idle');
  const controllerRef = useRef<LiveController | null>(null);
  const hlsRef = useRef<HLSPlayerHandle | null>(null);
  const videoRef = useRef<HTMLVideoElement | null>(null);

  const endpoint = useMemo(() => {
    if (whepUrl === null) return null;
    const derived = whepEndpointFor(src);
    if (whepUrl !== undefined) return { url: whepUrl, token: token ?? derived?.token ?? null };
    return derived ? { url: derived.url, token: token ?? derived.token } : null;
  }, [src, whepUrl, token]);
  const ladderKey = JSON.stringify(ladder ?? null);

  useEffect(() => {
    const c = new LiveController({
      choice,
      whepUrl: endpoint?.url ?? null,
      token: endpoint?.token ?? null,
      ladder,
      statsIntervalMs,
      jitterBufferTargetMs,
      onActive: (p, reason) => {
        setActive(p);
        callbacks.current.onProtocol?.(p, reason);
      },
      onStats: (s) => callbacks.current.onStats?.(s),
      onPhase: (p, reason) => {
        setRtcPhase(p);
        callbacks.current.onStateChange?.(p, reason);
      },
      log: (m) => {
        if (typeof localStorage !== 'undefined' && localStorage.getItem?.('edgestream.debug')) console.debug(m);
      },
    });
    controllerRef.current = c;
    c.attachVideo(videoRef.current);
    c.start();
    return () => {
      c.destroy();
      if (controllerRef.current === c) controllerRef.current = null;
      setActive(null);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [choice, endpoint?.url, endpoint?.token, ladderKey, statsIntervalMs, jitterBufferTargetMs]);

  useImperativeHandle(
    ref,
    () => ({
      getStats: (): PlayerStats | null => {
        const c = controllerRef.current;
        if (c?.active === 'webrtc') return c.lastStats;
        return hlsRef.current?.getStats() ?? null;
      },
      get config(): PlayerHlsConfig | null {
        return hlsRef.current?.config ?? null;
      },
      get hls(): Hls | null {
        return hlsRef.current?.hls ?? null;
      },
      get video(): HTMLVideoElement | null {
        return controllerRef.current?.active === 'webrtc' ? videoRef.current : hlsRef.current?.video ?? null;
      },
      get protocol() {
        return controllerRef.current?.active ?? null;
      },
      get peerConnection() {
        return controllerRef.current?.webrtcSession?.pc ?? null;
      },
      get latencySource() {
        return controllerRef.current?.active === 'webrtc' ? controllerRef.current.latencySource : null;
      },
    }),
    [],
  );

  // Stable, so that re-renders (new stats every second) do not detach and re-attach the video.
  const setVideo = useCallback((v: HTMLVideoElement | null) => {
    videoRef.current = v;
    controllerRef.current?.attachVideo(v);
  }, []);

  const statusText = active === 'webrtc' ? PHASE_TEXT[rtcPhase] : '';
  return (
    <div className={['liveplayer', className].filter(Boolean).join(' ')} style={{ position: 'relative', ...style }} data-protocol={active ?? ''}>
      {active === 'webrtc' ? (
        <>
          <video
            ref={setVideo}
            muted={muted}
            autoPlay={autoPlay}
            controls={controls}
            playsInline={playsInline}
            poster={poster}
            title={title}
            aria-label={title}
            style={VIDEO_STYLE}
          />
          {showStatus && statusText ? (
            <div className="hlsplayer-status" role="status" aria-live="polite" style={STATUS_STYLE}>
              {statusText}
            </div>
          ) : null}
        </>
      ) : active ? (
        <HLSPlayer
          {...hlsProps}
          ref={hlsRef}
          src={src}
          protocol={active === 'hls' ? 'hls' : 'll-hls'}
          muted={muted}
          autoPlay={autoPlay}
          controls={controls}
          playsInline={playsInline}
          poster={poster}
          title={title}
          showStatus={showStatus}
          statsIntervalMs={statsIntervalMs}
          style={FILL}
        />
      ) : showStatus ? (
        <div className="hlsplayer-status" role="status" aria-live="polite" style={STATUS_STYLE}>
          {PHASE_TEXT.connecting}
        </div>
      ) : null}
    </div>
  );
});

const FILL: CSSProperties = { position: 'absolute', inset: 0 };
const VIDEO_STYLE: CSSProperties = { display: 'block', position: 'absolute', inset: 0, width: '100%', height: '100%', objectFit: 'contain', background: '#000' };

/** Short label for a protocol, as the tile shows it. */
export const PROTOCOL_LABEL: Record<Protocol, string> = { webrtc: 'WebRTC', 'll-hls': 'LL-HLS', hls: 'HLS' };

export default LivePlayer;
