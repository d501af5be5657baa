// LivePlayer's brain outside React: the protocol ladder (protocol.ts) carried out with real
// WHEP sessions (whep.ts), the WebRTC <video>, its stats and its health.  HLS itself is
// HLSPlayer's business; this only tells LivePlayer which rung to render.
//
// WebRTC, step by step:
//  - attempt: whepConnect() (POST, ICE, DTLS) and then a first decoded frame, all within
//    `connectTimeoutMs` (4 s) of the attempt's start; an HTTP error fails at once;
//  - playing: every statsIntervalMs, getStats() -> latency (estimatedPlayoutTimestamp),
//    frames, jitter buffer; no new frame for 1.5 s = stalled, for 5 s = offline (the camera
//    is gone; the session stays open and resumes when frames come back);
//  - lost: connectionState `failed`/`closed`, or `disconnected` for disconnectGraceMs (3 s):
//    the ladder falls back and probes WebRTC again later;
//  - probe (while a lower rung plays): a background whepConnect() that counts as good once
//    connected and video RTP packets arrive; LivePlayer then switches to it.

import { whepConnect, webrtcVideoStats, WhepError, type WhepOptions, type WhepSession } from './whep';
import {
  DEFAULT_LADDER_OPTIONS,
  initialLadderState,
  reduceLadder,
  type LadderAction,
  type LadderEvent,
  type LadderOptions,
  type LadderState,
  type Protocol,
  type ProtocolChoice,
} from './protocol';
import type { PlayerStats } from './player-controller';
import type { PlayerPhase } from './recovery';

export const STALL_AFTER_MS = 1500;
export const OFFLINE_AFTER_MS = 5000;

export interface LiveControllerOptions {
  choice: ProtocolChoice;
  /** POST target for WHEP; null = WebRTC unavailable for this source. */
  whepUrl: string | null;
  token?: string | null;
  ladder?: Partial<LadderOptions>;
  statsIntervalMs?: number;
  jitterBufferTargetMs?: number;
  /** Injected in tests. */
  connect?: (url: string, opts: WhepOptions) => Promise<WhepSession>;
  /** The rung to render changed. */
  onActive?: (p: Protocol, reason: string | null) => void;
  /** WebRTC stats (only while WebRTC is the active rung). */
  onStats?: (s: PlayerStats) => void;
  /** WebRTC phase (only while WebRTC is the active rung). */
  onPhase?: (phase: PlayerPhase, reason: string | null) => void;
  log?: (msg: string) => void;
}

function reasonOf(err: unknown): { reason: string; retryAfterMs: number | null } {
  if (err instanceof WhepError) {
    return { reason: `WebRTC: ${err.message}`, retryAfterMs: err.retryAfterS !== null ? err.retryAfterS * 1000 : null };
  }
  return { reason: `WebRTC: ${String(err)}`, retryAfterMs: null };
}

export class LiveController {
  private opts: LiveControllerOptions;
  private ladderOpts: LadderOptions;
  private state: LadderState;
  private destroyed = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private video: HTMLVideoElement | null = null;
  /** The WebRTC session on screen (or being attached). */
  private session: WhepSession | null = null;
  /** A background session from a successful probe, about to be adopted. */
  private probeSession: WhepSession | null = null;
  private attemptAbort: AbortController | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private webrtcGen = 0;
  // WebRTC playback health.
  private phase: PlayerPhase = 'idle';
  private reason: string | null = null;
  private lastFrames = 0;
  private lastFrameAt = 0;
  private lastBytes = 0;
  private lastBytesAt = 0;
  private bitrateBps: number | null = null;
  private stalls = 0;
  private disconnectTimer: ReturnType<typeof setTimeout> | null = null;
  // requestVideoFrameCallback: capture-to-display of the frames shown since the last tick.
  private rvfcVideo: HTMLVideoElement | null = null;
  private rvfcHandle: number | null = null;
  private rvfcSum = 0;
  private rvfcCount = 0;
  private rvfcLast: number | null = null;
  lastStats: PlayerStats | null = null;
  /** Where the last WebRTC latency figure came from. */
  latencySource: 'estimatedPlayoutTimestamp' | 'captureTime' | null = null;

  constructor(opts: LiveControllerOptions) {
    this.opts = opts;
    this.ladderOpts = { ...DEFAULT_LADDER_OPTIONS, ...opts.ladder };
    this.state = initialLadderState(opts.choice);
  }

  setCallbacks(cb: Pick<LiveControllerOptions, 'onActive' | 'onStats' | 'onPhase'>): void {
    this.opts = { ...this.opts, ...cb };
  }

  get active(): Protocol | null {
    return this.state.active;
  }

  get ladderState(): LadderState {
    return this.state;
  }

  get webrtcSession(): WhepSession | null {
    return this.session;
  }

  start(): void {
    if (typeof window !== 'undefined') {
      window.addEventListener('pagehide', this.onPageHide);
      window.addEventListener('pageshow', this.onPageShow);
    }
    this.dispatch({ type: 'start' });
  }

  /** The page goes away (or into the back/forward cache): end the sessions now (DELETE, keepalive). */
  private onPageHide = (): void => {
    if (this.destroyed) return;
    const s = this.session;
    if (s) {
      this.webrtcGen++;
      this.session = null;
      void s.close();
    }
    void this.probeSession?.close();
    this.probeSession = null;
  };

  /** Back from the back/forward cache with the WebRTC session ended: fall back and probe. */
  private onPageShow = (e: PageTransitionEvent): void => {
    if (!e.persisted || this.destroyed || this.state.active !== 'webrtc' || this.session) return;
    this.stopWebRtc();
    this.dispatch({ type: 'failed', protocol: 'webrtc', reason: 'WebRTC ended while the page was hidden' });
  };

  /** The <video> that shows WebRTC (LivePlayer renders it while WebRTC is active). */
  attachVideo(v: HTMLVideoElement | null): void {
    this.video = v;
    if (v && this.session && !this.session.closed) this.showSession(v, this.session);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('pagehide', this.onPageHide);
      window.removeEventListener('pageshow', this.onPageShow);
    }
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stopWebRtc();
    void this.probeSession?.close();
    this.probeSession = null;
  }

  // ------------------------------------------------------------------ ladder

  private dispatch(e: LadderEvent): void {
    if (this.destroyed) return;
    const before = this.state;
    const { state, actions } = reduceLadder(before, e, this.ladderOpts);
    this.state = state;
    for (const a of actions) this.perform(a);
  }

  private perform(a: LadderAction): void {
    switch (a.type) {
      case 'play':
        if (a.protocol === 'webrtc') {
          const adopted = a.adopt ? this.probeSession : null;
          this.probeSession = null;
          this.log(`playing WebRTC${adopted ? ' (the probe session)' : ''}`);
          this.opts.onActive?.('webrtc', null);
          void this.playWebRtc(adopted);
        } else {
          this.stopWebRtc();
          this.log(`playing ${a.protocol}${this.state.reason ? ` (${this.state.reason})` : ''}`);
          this.opts.onActive?.(a.protocol, this.state.reason);
        }
        break;
      case 'probe':
        this.log(`WebRTC again in ${(a.delayMs / 1000).toFixed(0)} s`);
        this.later(a.delayMs, () => void this.probe());
        break;
      case 'retry':
        this.setPhase('recovering', this.state.reason);
        this.later(a.delayMs, () => this.dispatch({ type: 'retryDue', protocol: a.protocol }));
        break;
    }
  }

  private later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.destroyed) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // ------------------------------------------------------------------ WebRTC

  private connect(abort: AbortController, onState?: (s: RTCPeerConnectionState) => void): Promise<WhepSession> {
    const signal = abort.signal;
    if (!this.opts.whepUrl) return Promise.reject(new WhepError('unsupported', 'no WHEP URL for this camera'));
    const fn = this.opts.connect ?? whepConnect;
    const budget = this.ladderOpts.connectTimeoutMs;
    const attempt = fn(this.opts.whepUrl, {
      token: this.opts.token,
      connectTimeoutMs: budget,
      jitterBufferTargetMs: this.opts.jitterBufferTargetMs,
      signal,
      onConnectionState: onState,
      log: this.opts.log,
    });
    // whepConnect keeps its own deadline; this one also bounds a POST that never answers.
    return new Promise<WhepSession>((resolve, reject) => {
      let late = false;
      const t = this.later(budget + 250, () => {
        late = true;
        abort.abort();
        reject(new WhepError('timeout', `no WebRTC session within ${budget} ms`));
      });
      attempt.then(
        (s) => {
          clearTimeout(t);
          this.timers.delete(t);
          if (late) void s.close();
          else resolve(s);
        },
        (err: unknown) => {
          clearTimeout(t);
          this.timers.delete(t);
          if (!late) reject(err);
        },
      );
    });
  }

  /** Attempt (or adopt) a session and show it; on failure the ladder falls back. */
  private async playWebRtc(adopted: WhepSession | null): Promise<void> {
    this.stopWebRtc();
    const gen = ++this.webrtcGen;
    const started = Date.now();
    this.setPhase('connecting', null);
    let session = adopted;
    if (!session) {
      const abort = new AbortController();
      this.attemptAbort = abort;
      try {
        session = await this.connect(abort, (s) => this.onConnectionState(gen, s));
      } catch (err) {
        if (this.destroyed || gen !== this.webrtcGen) return;
        const r = reasonOf(err);
        this.log(`WebRTC failed after ${Date.now() - started} ms: ${r.reason}`);
        this.dispatch({ type: 'failed', protocol: 'webrtc', reason: r.reason, retryAfterMs: r.retryAfterMs });
        return;
      } finally {
        if (this.attemptAbort === abort) this.attemptAbort = null;
      }
    } else {
      session.pc.addEventListener('connectionstatechange', () => this.onConnectionState(gen, session!.pc.connectionState));
    }
    if (this.destroyed || gen !== this.webrtcGen) {
      void session.close();
      return;
    }
    this.session = session;
    this.lastFrames = 0;
    this.lastFrameAt = Date.now();
    this.lastBytes = 0;
    this.lastBytesAt = Date.now();
    this.bitrateBps = null;
    if (this.video) this.showSession(this.video, session);
    // The first frame must come within the connect budget (a fresh one for an adopted probe).
    const budget = Math.max(500, this.ladderOpts.connectTimeoutMs - (adopted ? 0 : Date.now() - started));
    const ok = await this.waitFirstFrame(session, gen, budget);
    if (this.destroyed || gen !== this.webrtcGen) return;
    if (!ok) {
      this.log(`WebRTC connected but no frame within ${budget} ms`);
      this.stopWebRtc();
      this.dispatch({ type: 'failed', protocol: 'webrtc', reason: 'WebRTC: no video frame in time' });
      return;
    }
    this.log(`WebRTC playing ${Date.now() - started} ms after the attempt began`);
    this.setPhase('live', null);
    this.dispatch({ type: 'playing', protocol: 'webrtc' });
    const every = this.opts.statsIntervalMs ?? 1000;
    this.statsTimer = setInterval(() => void this.tick(gen), every);
    void this.tick(gen);
  }

  /**
   * requestVideoFrameCallback gives, for WebRTC frames, `captureTime`: the sender's capture
   * time of the frame (its RTP timestamp mapped through the RTCP sender reports) in this
   * page's clock, and `expectedDisplayTime`.  Their difference is capture-to-display.  Used
   * when getStats() has no estimatedPlayoutTimestamp yet (Chrome reports it only once audio
   * and video both have sender reports).
   */
  private watchFrames(v: HTMLVideoElement): void {
    type Rvfc = HTMLVideoElement & {
      requestVideoFrameCallback?: (cb: (now: number, m: { captureTime?: number; expectedDisplayTime?: number }) => void) => number;
      cancelVideoFrameCallback?: (h: number) => void;
    };
    const rv = v as Rvfc;
    if (this.rvfcVideo === v || typeof rv.requestVideoFrameCallback !== 'function') return;
    this.unwatchFrames();
    this.rvfcVideo = v;
    const onFrame = (_now: number, m: { captureTime?: number; expectedDisplayTime?: number }) => {
      if (this.rvfcVideo !== v) return;
      if (typeof m.captureTime === 'number' && typeof m.expectedDisplayTime === 'number' && m.captureTime > 0) {
        const d = m.expectedDisplayTime - m.captureTime;
        if (d > -1000 && d < 60000) {
          this.rvfcSum += d;
          this.rvfcCount++;
        }
      }
      this.rvfcHandle = rv.requestVideoFrameCallback!(onFrame);
    };
    this.rvfcHandle = rv.requestVideoFrameCallback(onFrame);
  }

  private unwatchFrames(): void {
    const v = this.rvfcVideo as (HTMLVideoElement & { cancelVideoFrameCallback?: (h: number) => void }) | null;
    if (v && this.rvfcHandle !== null) v.cancelVideoFrameCallback?.(this.rvfcHandle);
    this.rvfcVideo = null;
    this.rvfcHandle = null;
    this.rvfcSum = 0;
    this.rvfcCount = 0;
    this.rvfcLast = null;
  }

  private showSession(v: HTMLVideoElement, s: WhepSession): void {
    this.watchFrames(v);
    try {
      if ((v as HTMLVideoElement & { srcObject: MediaProvider | null }).srcObject !== s.stream) v.srcObject = s.stream;
    } catch (err) {
      this.log(`cannot attach the WebRTC stream: ${String(err)}`);
      return;
    }
    const p = v.play?.();
    if (p && typeof p.catch === 'function') p.catch((err: unknown) => this.log(`play() refused: ${String(err)}`));
  }

  private async framesDecoded(s: WhepSession): Promise<{ frames: number; packets: number }> {
    try {
      const st = webrtcVideoStats(await s.pc.getStats(), Date.now());
      return { frames: st.framesDecoded, packets: st.packetsReceived };
    } catch {
      return { frames: 0, packets: 0 };
    }
  }

  private waitFirstFrame(s: WhepSession, gen: number, budgetMs: number): Promise<boolean> {
    const end = Date.now() + budgetMs;
    return new Promise((resolve) => {
      const check = async () => {
        if (this.destroyed || gen !== this.webrtcGen || s.closed) return resolve(false);
        const v = this.video;
        const shown = !!v && v.readyState >= 2 && v.videoWidth > 0;
        const { frames } = await this.framesDecoded(s);
        if (shown || frames > 0) return resolve(true);
        if (Date.now() >= end) return resolve(false);
        this.later(100, () => void check());
      };
      void check();
    });
  }

  private onConnectionState(gen: number, st: RTCPeerConnectionState): void {
    if (this.destroyed || gen !== this.webrtcGen || !this.session) return;
    if (st === 'connected') {
      if (this.disconnectTimer) {
        clearTimeout(this.disconnectTimer);
        this.timers.delete(this.disconnectTimer);
        this.disconnectTimer = null;
      }
      return;
    }
    if (st === 'failed' || st === 'closed') {
      this.lose(gen, `WebRTC connection ${st}`);
    } else if (st === 'disconnected' && !this.disconnectTimer) {
      this.setPhase('stalled', 'WebRTC disconnected');
      this.disconnectTimer = this.later(this.ladderOpts.disconnectGraceMs, () => {
        this.disconnectTimer = null;
        if (this.session && this.session.pc.connectionState !== 'connected') this.lose(gen, 'WebRTC disconnected');
      });
    }
  }

  private lose(gen: number, reason: string): void {
    if (gen !== this.webrtcGen) return;
    this.log(`${reason}: falling back`);
    this.stopWebRtc();
    this.dispatch({ type: 'failed', protocol: 'webrtc', reason });
  }

  private stopWebRtc(): void {
    this.webrtcGen++;
    this.attemptAbort?.abort();
    this.attemptAbort = null;
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
    if (this.disconnectTimer) {
      clearTimeout(this.disconnectTimer);
      this.timers.delete(this.disconnectTimer);
      this.disconnectTimer = null;
    }
    const s = this.session;
    this.session = null;
    if (s) void s.close();
    this.unwatchFrames();
    const v = this.video;
    if (v) {
      try {
        if ((v as HTMLVideoElement & { srcObject: MediaProvider | null }).srcObject) v.srcObject = null;
      } catch {
        /* jsdom */
      }
    }
  }

  /** Background WebRTC attempt while a lower rung plays. */
  private async probe(): Promise<void> {
    if (this.destroyed) return;
    const abort = new AbortController();
    let session: WhepSession | null = null;
    try {
      session = await this.connect(abort);
      // Connected: video RTP must arrive too (the camera may be gone while the box is up).
      const end = Date.now() + this.ladderOpts.connectTimeoutMs;
      for (;;) {
        const { packets } = await this.framesDecoded(session);
        if (packets > 0) break;
        if (this.destroyed || session.closed) throw new WhepError('aborted', 'aborted');
        if (Date.now() >= end) throw new WhepError('timeout', 'connected, but no video arrived');
        await new Promise<void>((r) => this.later(200, r));
      }
    } catch (err) {
      if (session) void session.close();
      if (this.destroyed) return;
      const r = reasonOf(err);
      this.log(`WebRTC probe failed: ${r.reason}`);
      this.dispatch({ type: 'probeResult', protocol: 'webrtc', ok: false, reason: r.reason, retryAfterMs: r.retryAfterMs });
      return;
    }
    if (this.destroyed) {
      void session.close();
      return;
    }
    this.log('WebRTC probe connected: moving up');
    this.probeSession = session;
    this.dispatch({ type: 'probeResult', protocol: 'webrtc', ok: true });
    if (this.probeSession === session) {
      // The ladder did not take it (no longer wanted).
      this.probeSession = null;
      void session.close();
    }
  }

  // ------------------------------------------------------------------ stats

  private setPhase(p: PlayerPhase, reason: string | null): void {
    if (p === this.phase && reason === this.reason) return;
    this.phase = p;
    this.reason = reason;
    if (this.state.active === 'webrtc') this.opts.onPhase?.(p, reason);
  }

  private async tick(gen: number): Promise<void> {
    const s = this.session;
    if (!s || gen !== this.webrtcGen || this.destroyed) return;
    let report: RTCStatsReport;
    try {
      report = await s.pc.getStats();
    } catch {
      return;
    }
    if (gen !== this.webrtcGen || this.destroyed) return;
    const now = Date.now();
    const st = webrtcVideoStats(report, now);
    if (st.framesDecoded > this.lastFrames) {
      this.lastFrames = st.framesDecoded;
      this.lastFrameAt = now;
      if (this.phase !== 'live' && s.pc.connectionState === 'connected') this.setPhase('live', null);
    } else if (now - this.lastFrameAt >= OFFLINE_AFTER_MS) {
      this.setPhase('offline', 'no frames from the camera (the WebRTC session stays open)');
    } else if (now - this.lastFrameAt >= STALL_AFTER_MS && this.phase === 'live') {
      this.stalls++;
      this.setPhase('stalled', null);
    }
    if (now > this.lastBytesAt && st.bytesReceived >= this.lastBytes && this.lastBytes > 0) {
      this.bitrateBps = Math.round(((st.bytesReceived - this.lastBytes) * 8 * 1000) / (now - this.lastBytesAt));
    }
    this.lastBytes = st.bytesReceived;
    this.lastBytesAt = now;
    const v = this.video;
    const q = v && typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
    const live = this.phase === 'live' || this.phase === 'stalled';
    if (this.rvfcCount > 0) {
      this.rvfcLast = this.rvfcSum / this.rvfcCount;
      this.rvfcSum = 0;
      this.rvfcCount = 0;
    }
    let latencyMs: number | null = null;
    this.latencySource = null;
    if (live && st.latencyMs !== null) {
      latencyMs = st.latencyMs;
      this.latencySource = 'estimatedPlayoutTimestamp';
    } else if (live && this.rvfcLast !== null) {
      latencyMs = this.rvfcLast;
      this.latencySource = 'captureTime';
    }
    const stats: PlayerStats = {
      at: now,
      phase: this.phase,
      engine: 'webrtc',
      protocol: 'webrtc',
      latencyMs,
      playingDate: latencyMs !== null ? new Date(now - latencyMs).toISOString() : null,
      edgeLatencyS: null,
      targetLatencyS: (this.opts.jitterBufferTargetMs ?? 0) / 1000,
      bufferAheadS: st.jitterBufferMs !== null ? st.jitterBufferMs / 1000 : 0,
      bitrateBps: this.bitrateBps,
      bandwidthEstimateBps: null,
      droppedFrames: q?.droppedVideoFrames ?? st.framesDropped,
      totalFrames: q?.totalVideoFrames ?? st.framesDecoded,
      stalls: this.stalls,
      currentTime: v?.currentTime ?? 0,
      playbackRate: 1,
      reason: this.reason,
    };
    this.lastStats = stats;
    this.opts.onStats?.(stats);
  }

  private log(msg: string): void {
    this.opts.log?.(`[live] ${msg}`);
  }
}

/**
 * The WHEP endpoint of a playlist URL on the edgestream origin: `<base>/live/<camera>/…m3u8`
 * -> `<base>/whep/<camera>`, plus the `?token=` the playlist URL carries (sent as a bearer
 * token, never in the WHEP URL).  Null when the URL is not an edgestream playlist.
 */
export function whepEndpointFor(src: string, baseUri?: string): { url: string; token: string | null } | null {
  let u: URL;
  try {
    u = new URL(src, baseUri ?? (typeof document !== 'undefined' ? document.baseURI : 'http://localhost/'));
  } catch {
    return null;
  }
  const m = /^(.*)\/live\/([^/]+)\/[^/]+\.m3u8$/.exec(u.pathname);
  if (!m) return null;
  const token = u.searchParams.get('token');
  return { url: `${u.origin}${m[1]}/whep/${m[2]}`, token };
}
