// Everything HLSPlayer does to a <video>, outside React: choose hls.js or native HLS, wire
// events into the recovery state machine (recovery.ts), carry out its actions, measure
// stats, and tear it all down again.  One controller per (src, config); HLSPlayer makes a
// new one when either changes and destroys the old one.

import Hls from 'hls.js';
import type { ErrorData, FragLoadedData, LevelLoadedData } from 'hls.js';
import {
  initialRecoveryState,
  isStale,
  pollOutcome,
  reduce,
  summarizePlaylist,
  type PlayerPhase,
  type PollMemory,
  type RecoveryAction,
  type RecoveryEvent,
  type RecoveryOptions,
  type RecoveryState,
} from './recovery';
import type { PlayerHlsConfig } from './profiles';
import { fetchPlaylistKind } from './ll-detect';
// hls.js's ES module build has no inline worker: `enableWorker: true` only moves
// transmuxing off the main thread when `workerPath` names the worker script.  Vite emits
// it as an asset and gives us its URL.
import hlsWorkerUrl from 'hls.js/dist/hls.worker.js?url';

export type Engine = 'hls.js' | 'native' | 'none' | 'webrtc';

/** How the picture reaches the player: WebRTC (WHEP), LL-HLS (parts) or classic HLS. */
export type PlayingProtocol = 'webrtc' | 'll-hls' | 'hls';

export interface PlayerStats {
  /** Date.now() when these figures were taken. */
  at: number;
  phase: PlayerPhase;
  engine: Engine;
  /** What is playing: 'll-hls' when hls.js loads parts, 'hls' for whole segments, 'webrtc'. Null before the first playlist. */
  protocol: PlayingProtocol | null;
  /**
   * Glass-to-glass latency: Date.now() - hls.playingDate, i.e. now minus the
   * EXT-X-PROGRAM-DATE-TIME of the frame on screen (ms).  Null without PDT.
   */
  latencyMs: number | null;
  /** The PDT of the frame on screen (ISO 8601), null without PDT. */
  playingDate: string | null;
  /** hls.js's own `latency`: live edge minus currentTime (s). Not glass-to-glass. */
  edgeLatencyS: number | null;
  /** hls.js's target distance from the live edge (s). */
  targetLatencyS: number | null;
  /** Seconds buffered ahead of the playhead. */
  bufferAheadS: number;
  /** Measured media bitrate of the last fragments loaded (bit/s). */
  bitrateBps: number | null;
  /** hls.js's bandwidth estimate (bit/s). */
  bandwidthEstimateBps: number | null;
  droppedFrames: number;
  totalFrames: number;
  /** Buffer stalls since the player was mounted. */
  stalls: number;
  currentTime: number;
  playbackRate: number;
  /** Why the player is recovering / offline. */
  reason: string | null;
}

export interface ControllerOptions {
  src: string;
  hlsConfig: PlayerHlsConfig;
  autoPlay: boolean;
  engine: 'auto' | 'hls.js' | 'native';
  statsIntervalMs: number;
  recovery?: Partial<RecoveryOptions>;
  onStats?: (s: PlayerStats) => void;
  onPhase?: (phase: PlayerPhase, reason: string | null) => void;
  onHls?: (hls: Hls | null) => void;
  /**
   * LL detection (HLSPlayer `protocol="ll-hls"`): read the playlist before building hls.js
   * and use this config when it is LL-HLS (EXT-X-PART-INF / PART-HOLD-BACK), `hlsConfig`
   * when it is not.  Null/undefined: play `hlsConfig` as given.
   */
  llHlsConfig?: PlayerHlsConfig | null;
  /** Called with the detection's answer (true = LL-HLS), each time it is made. */
  onPlaylistKind?: (lowLatency: boolean) => void;
  log?: (msg: string) => void;
}

const HLS_MIME = 'application/vnd.apple.mpegurl';
const POLL_TIMEOUT_MS = 5000;
/** After playback starts, wait this long, then catch up to live once (see catchUpToLive). */
const CATCH_UP_AFTER_MS = 1000;
/** Only catch up when further behind the live-sync position than this (s). */
const CATCH_UP_TOLERANCE_S = 0.25;
const BITRATE_WINDOW = 8;
/**
 * Trimming (trimRate): in low-latency mode, play TRIM_RATE times as fast while more than
 * TRIM_START_S behind hls.js's target, until within TRIM_STOP_S of it, and only while at
 * least TRIM_MIN_BUFFER_S is buffered ahead (so the trim never runs the buffer dry).
 */
export const TRIM_RATE = 1.1;
export const TRIM_START_S = 0.1;
export const TRIM_STOP_S = 0.03;
export const TRIM_MIN_BUFFER_S = 0.25;
/** After a stall, this much uninterrupted playback before the target is put back (ms). */
export const HOLD_TARGET_AFTER_MS = 2000;
/** Give up on the LL detection request after this long and play the plain config (ms). */
const DETECT_TIMEOUT_MS = 3000;

export function chooseEngine(video: HTMLVideoElement, pref: ControllerOptions['engine']): Engine {
  const mse = Hls.isSupported();
  const native = typeof video.canPlayType === 'function' && video.canPlayType(HLS_MIME) !== '';
  if (pref === 'native') return native ? 'native' : mse ? 'hls.js' : 'none';
  if (pref === 'hls.js') return mse ? 'hls.js' : native ? 'native' : 'none';
  // hls.js first wherever MSE exists: it honours the profile and gives full stats.  (Recent
  // Chromium also answers "maybe" for native HLS, so canPlayType alone must not decide.)
  return mse ? 'hls.js' : native ? 'native' : 'none';
}

export class PlayerController {
  readonly video: HTMLVideoElement;
  private opts: ControllerOptions;
  engine: Engine = 'none';
  hls: Hls | null = null;
  private state: RecoveryState = initialRecoveryState();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private videoListeners: Array<[string, EventListener]> = [];
  private pollAbort: AbortController | null = null;
  private pollMemory: PollMemory = { kind: 'none' };
  private destroyed = false;
  private manifestParsed = false;
  // Playlist advancement (stale detection).
  private lastAdvanceAt = 0;
  private everAdvanced = false;
  private advanceKey = '';
  private targetDuration: number | null = null;
  // Playback progress.
  private lastCurrentTime = -1;
  private lastProgressAt = 0;
  private catchUpScheduled = false;
  // Bitrate window: [bytes, seconds].
  private loaded: Array<[number, number]> = [];
  private generation = 0;
  /** The poster before freezeLastFrame() replaced it (null = not replaced). */
  private originalPoster: string | null = null;
  // LL detection: the answer once known (null = not asked yet / failed), the config in use.
  private lowLatency: boolean | null = null;
  private activeConfig: PlayerHlsConfig;
  private detectAbort: AbortController | null = null;
  // Target hold after stalls: when the last stall happened, and whether a hold is due.
  private lastStallAt = 0;
  private holdPending = false;
  /** The target latency was set from the first playlist of this attach (onPlaylist). */
  private targetSet = false;

  constructor(video: HTMLVideoElement, opts: ControllerOptions) {
    this.video = video;
    this.opts = opts;
    this.activeConfig = opts.hlsConfig;
  }

  /** The hls.js config in use (after LL detection). */
  get config(): PlayerHlsConfig {
    return this.activeConfig;
  }

  /** Update callbacks without restarting. */
  setCallbacks(cb: Pick<ControllerOptions, 'onStats' | 'onPhase' | 'onHls'>): void {
    this.opts = { ...this.opts, ...cb };
  }

  get phase(): PlayerPhase {
    return this.state.phase;
  }

  start(): void {
    if (this.destroyed) return;
    this.engine = chooseEngine(this.video, this.opts.engine);
    this.addVideoListener('playing', () => this.checkProgress(Date.now()));
    this.addVideoListener('timeupdate', () => this.trimToTarget());
    this.addVideoListener('waiting', () => {
      if (this.engine === 'native') this.dispatch({ type: 'stall' });
    });
    this.addVideoListener('ended', () => this.dispatch({ type: 'stale', reason: 'stream ended' }));
    this.addVideoListener('error', () => this.onNativeError());
    this.dispatch({ type: 'start' });
    if (this.engine === 'none') {
      this.state = { ...this.state, phase: 'offline', reason: 'this browser cannot play HLS' };
      this.emitPhase();
      return;
    }
    this.attach();
    this.statsTimer = setInterval(() => this.tick(), this.opts.statsIntervalMs);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pollAbort?.abort();
    this.pollAbort = null;
    this.detectAbort?.abort();
    this.detectAbort = null;
    this.detach();
    for (const [type, fn] of this.videoListeners) this.video.removeEventListener(type, fn);
    this.videoListeners = [];
    this.restorePoster();
    this.state = initialRecoveryState();
  }

  // ------------------------------------------------------------------ lifecycle

  private attach(): void {
    const now = Date.now();
    this.generation += 1;
    this.manifestParsed = false;
    this.lastAdvanceAt = now;
    this.everAdvanced = false;
    this.advanceKey = '';
    this.lastCurrentTime = -1;
    this.lastProgressAt = now;
    this.catchUpScheduled = false;
    this.targetSet = false;
    this.holdPending = false;
    this.loaded = [];
    if (this.engine !== 'native' && this.opts.llHlsConfig && this.lowLatency === null) {
      // Read the playlist once to learn whether it is LL-HLS, then build hls.js for it.  Asked
      // again on every (re)attach until it has been answered once.
      const gen = this.generation;
      const abort = new AbortController();
      this.detectAbort = abort;
      const timer = setTimeout(() => abort.abort(), DETECT_TIMEOUT_MS);
      fetchPlaylistKind(absolute(this.opts.src), abort.signal)
        .then(
          (kind) => {
            this.lowLatency = kind.lowLatency;
            this.log(`playlist is ${kind.lowLatency ? 'LL-HLS' : 'classic HLS'}`);
            this.opts.onPlaylistKind?.(kind.lowLatency);
          },
          (err: unknown) => this.log(`LL detection failed (${String(err)}); playing the given config`),
        )
        .finally(() => {
          clearTimeout(timer);
          if (this.detectAbort === abort) this.detectAbort = null;
          if (this.destroyed || gen !== this.generation) return;
          this.attachHls();
        });
      return;
    }
    this.attachHls();
  }

  private attachHls(): void {
    if (this.engine === 'native') {
      this.video.src = this.opts.src;
      this.video.load();
      if (this.opts.autoPlay) this.play();
      return;
    }
    this.activeConfig = this.opts.llHlsConfig && this.lowLatency ? this.opts.llHlsConfig : this.opts.hlsConfig;
    let hls: Hls;
    try {
      const cfg = { ...this.activeConfig } as Record<string, unknown>;
      if (cfg.enableWorker !== false && !cfg.workerPath) cfg.workerPath = hlsWorkerUrl;
      hls = new Hls(cfg as Partial<Hls['config']>);
    } catch (err) {
      this.log(`hls.js refused the config: ${String(err)}`);
      this.state = { ...this.state, phase: 'offline', reason: `bad hls.js config: ${String(err)}` };
      this.emitPhase();
      return;
    }
    this.hls = hls;
    const gen = this.generation;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (gen !== this.generation) return;
      this.manifestParsed = true;
      if (this.opts.autoPlay) this.play();
    });
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
      if (gen !== this.generation) return;
      this.onPlaylist(data);
    });
    hls.on(Hls.Events.FRAG_LOADED, (_e, data: FragLoadedData) => {
      if (gen !== this.generation) return;
      // stats.loaded, not payload.byteLength: the payload may already be transferred to
      // the transmux worker (detached, 0 bytes) when this handler runs.
      const unit = data.part ?? data.frag;
      const bytes = unit.stats.loaded || data.payload?.byteLength || 0;
      const seconds = unit.duration;
      if (bytes > 0 && seconds > 0) {
        this.loaded.push([bytes, seconds]);
        if (this.loaded.length > BITRATE_WINDOW) this.loaded.shift();
      }
    });
    hls.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
      if (gen !== this.generation) return;
      this.onHlsError(data);
    });
    hls.attachMedia(this.video);
    hls.loadSource(this.opts.src);
    this.opts.onHls?.(hls);
  }

  private detach(): void {
    if (this.hls) {
      const hls = this.hls;
      this.hls = null;
      hls.destroy(); // also removes every listener registered with hls.on()
      this.opts.onHls?.(null);
    }
    // Release the decoder and the MediaSource.
    this.video.removeAttribute('src');
    try {
      this.video.load();
    } catch {
      /* jsdom */
    }
  }

  private play(): void {
    const p = this.video.play?.();
    if (p && typeof p.catch === 'function') {
      p.catch((err: unknown) => {
        // Autoplay with sound is blocked in most browsers; the user can still press play.
        this.log(`play() refused: ${String(err)}`);
      });
    }
  }

  // ------------------------------------------------------------------ events in

  private onPlaylist(data: LevelLoadedData): void {
    const d = data.details;
    this.targetDuration = d.targetduration || this.targetDuration;
    if (this.opts.llHlsConfig && this.hls) {
      // The safety net of LL detection: hls.js's own reading of the playlist decides if the
      // request before it failed or the camera's kind changed (a daemon restarted with
      // another profile).  Rebuild once with the right config.
      const ll = (d.partTarget ?? 0) > 0 || (d.partHoldBack ?? 0) > 0;
      if (ll !== (this.lowLatency === true)) {
        this.log(`hls.js reads the playlist as ${ll ? 'LL-HLS' : 'classic'}; rebuilding with that config`);
        this.lowLatency = ll;
        this.opts.onPlaylistKind?.(ll);
        const gen = this.generation;
        this.later(0, () => {
          if (gen === this.generation && !this.destroyed) this.reattach();
        });
        return;
      }
      this.lowLatency = ll;
    }
    if (!this.targetSet && this.hls) {
      // hls.js takes PART-HOLD-BACK as its target; ours keeps one part more (baseTargetLatency).
      this.targetSet = true;
      const base = baseTargetLatency(this.hls);
      const current = this.hls.targetLatency;
      if (base !== null && typeof current === 'number' && Math.abs(current - base) > 0.01) this.hls.targetLatency = base;
    }
    const key = `${d.endSN}/${d.partList?.length ?? 0}/${d.lastPartSn ?? ''}/${d.lastPartIndex ?? ''}`;
    if (key !== this.advanceKey) {
      this.advanceKey = key;
      this.lastAdvanceAt = Date.now();
      this.everAdvanced = true;
    }
  }

  private onHlsError(data: ErrorData): void {
    if (!data.fatal) {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
        this.lastStallAt = Date.now();
        this.holdPending = true;
        this.dispatch({ type: 'stall' });
      }
      return;
    }
    this.log(`fatal ${data.type}: ${data.details}`);
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      this.dispatch({ type: 'networkError', details: data.details });
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      this.dispatch({ type: 'mediaError', now: Date.now(), details: data.details });
    } else {
      this.dispatch({ type: 'fatalError', details: data.details });
    }
  }

  private onNativeError(): void {
    if (this.engine !== 'native' || this.state.phase === 'offline' || !this.video.getAttribute('src')) return;
    const code = this.video.error?.code ?? 0;
    if (code === 3 /* MEDIA_ERR_DECODE */) {
      this.dispatch({ type: 'mediaError', now: Date.now(), details: 'decode' });
    } else {
      this.dispatch({ type: 'networkError', details: `media error ${code}` });
    }
  }

  /** Periodic: progress, staleness, stats. */
  tick(): void {
    if (this.destroyed) return;
    const now = Date.now();
    this.checkProgress(now);
    const phase = this.state.phase;
    if (phase === 'connecting' || phase === 'live' || phase === 'stalled' || phase === 'recovering') {
      // Native HLS hides the playlist from us: playback progress stands in for it.
      const last = this.engine === 'native' ? this.lastProgressAt : this.lastAdvanceAt;
      const ever = this.engine === 'native' ? this.lastCurrentTime > 0 : this.everAdvanced;
      const userPaused = this.video.paused && this.state.phase === 'live' && this.engine === 'native';
      if (!userPaused && isStale(now, last, this.targetDuration, ever, this.opts.recovery)) {
        this.dispatch({
          type: 'stale',
          reason: ever ? 'playlist stopped advancing' : 'no playlist received',
        });
      }
    }
    this.opts.onStats?.(this.getStats(now));
  }

  private checkProgress(now: number): void {
    const t = this.video.currentTime;
    if (t > this.lastCurrentTime + 0.001 && this.lastCurrentTime >= 0 && !this.video.paused) {
      this.lastProgressAt = now;
      this.restorePoster();
      this.dispatch({ type: 'progress', now });
      if (!this.catchUpScheduled && this.hls) {
        this.catchUpScheduled = true;
        const gen = this.generation;
        this.later(CATCH_UP_AFTER_MS, () => this.catchUpToLive(gen));
      }
      if (this.holdPending && this.hls && now - this.lastStallAt >= HOLD_TARGET_AFTER_MS && this.state.phase === 'live') {
        this.holdPending = false;
        this.holdTarget(this.hls);
      }
    }
    if (t !== this.lastCurrentTime) this.lastCurrentTime = t;
  }

  /**
   * hls.js adds `liveSyncOnStallIncrease` (1 s) to its target latency on every stall, up to
   * one target duration, and never takes it back; in low-latency mode its catch-up rate only
   * runs while more than 1 s is buffered, which an LL target of 0.6 s never has.  So, once
   * playback has run HOLD_TARGET_AFTER_MS without a stall: put the target back to what the
   * config and playlist say (the `targetLatency` setter also clears hls.js's stall count),
   * then jump to the live-sync position if it lies ahead within the buffered range.
   */
  private holdTarget(hls: Hls): void {
    const base = baseTargetLatency(hls);
    const current = hls.targetLatency;
    if (base !== null && typeof current === 'number' && current > base + 0.01) {
      this.log(`stall over: target latency ${current.toFixed(2)} s -> ${base.toFixed(2)} s`);
      hls.targetLatency = base;
    }
    if (this.video.paused) return;
    const to = liveCatchUpPosition(this.video, hls.liveSyncPosition, CATCH_UP_TOLERANCE_S);
    if (to === null) return;
    this.log(`back to live after a stall: ${this.video.currentTime.toFixed(2)} s -> ${to.toFixed(2)} s`);
    this.video.currentTime = to;
  }

  /**
   * hls.js's own catch-up (latency-controller.ts) speeds up only while more than 1 s is
   * buffered ahead, which an LL target (PART-HOLD-BACK, 0.4 s with the `ll` profile) never
   * has, and sets the rate back to 1 on every timeupdate otherwise; so the player drifted
   * 0.15-0.2 s behind its target and stayed there.  With maxLiveSyncPlaybackRate 1 (the
   * `ll` profile) hls.js leaves the rate alone and this trims instead, on every timeupdate.
   */
  private trimToTarget(): void {
    const hls = this.hls;
    if (!hls || !hls.config.lowLatencyMode || hls.config.maxLiveSyncPlaybackRate !== 1) return;
    const v = this.video;
    if (v.paused || this.state.phase !== 'live') return;
    const rate = trimRate(hls.latency, hls.targetLatency, bufferAhead(v), v.playbackRate);
    if (rate !== v.playbackRate) v.playbackRate = rate;
  }

  /**
   * hls.js starts playback where it was when the first media arrived plus its start-up time,
   * and (in low-latency mode) only speeds up towards its target while more than a second is
   * buffered ahead, so it settles about its start-up time later than the profile asks: for
   * LL-HLS that is most of the latency budget.  Once per (re)attach, shortly after playback
   * starts, jump to hls.js's live-sync position if it lies ahead within what is buffered
   * (no new loading, so no stall).
   */
  private catchUpToLive(gen: number): void {
    const hls = this.hls;
    if (!hls || gen !== this.generation || this.video.paused) return;
    const to = liveCatchUpPosition(this.video, hls.liveSyncPosition, CATCH_UP_TOLERANCE_S);
    if (to === null) return;
    this.log(`catching up to live: ${this.video.currentTime.toFixed(2)} s -> ${to.toFixed(2)} s`);
    this.video.currentTime = to;
  }

  // ------------------------------------------------------------------ state machine

  private dispatch(e: RecoveryEvent): void {
    if (this.destroyed && e.type !== 'stop') return;
    const before = this.state;
    const { state, actions } = reduce(before, e, this.opts.recovery);
    this.state = state;
    if (state.phase !== before.phase || state.reason !== before.reason) this.emitPhase();
    for (const a of actions) this.perform(a);
  }

  private emitPhase(): void {
    this.opts.onPhase?.(this.state.phase, this.state.reason);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.destroyed) fn();
    }, ms);
    this.timers.add(t);
  }

  private perform(a: RecoveryAction): void {
    switch (a.type) {
      case 'retryLoad':
        this.later(a.delayMs, () => {
          if (this.state.phase === 'offline') return;
          if (this.engine === 'native' || !this.hls) {
            this.detach();
            this.attach();
          } else if (this.manifestParsed) {
            this.hls.startLoad(-1);
          } else {
            this.hls.loadSource(this.opts.src);
          }
        });
        break;
      case 'recoverMediaError':
        if (this.hls) this.hls.recoverMediaError();
        else this.reattach();
        break;
      case 'swapAudioCodecAndRecover':
        if (this.hls) {
          this.hls.swapAudioCodec();
          this.hls.recoverMediaError();
        } else this.reattach();
        break;
      case 'rebuild':
        this.detach();
        this.later(a.delayMs, () => this.attach());
        break;
      case 'teardown':
        this.freezeLastFrame();
        this.detach();
        this.pollMemory = { kind: 'none' };
        break;
      case 'schedulePoll':
        this.later(a.delayMs, () => void this.poll());
        break;
    }
  }

  /** Keep the last picture (as the poster) while offline, instead of a black box. */
  private freezeLastFrame(): void {
    const v = this.video;
    if (!v.videoWidth || !v.videoHeight || typeof document === 'undefined') return;
    try {
      const c = document.createElement('canvas');
      const scale = Math.min(1, 640 / v.videoWidth);
      c.width = Math.round(v.videoWidth * scale);
      c.height = Math.round(v.videoHeight * scale);
      const g = c.getContext('2d');
      if (!g) return;
      g.drawImage(v, 0, 0, c.width, c.height);
      if (this.originalPoster === null) this.originalPoster = v.getAttribute('poster') ?? '';
      v.poster = c.toDataURL('image/jpeg', 0.7);
    } catch {
      /* cross-origin video without CORS taints the canvas: no snapshot */
    }
  }

  private restorePoster(): void {
    if (this.originalPoster === null) return;
    if (this.originalPoster) this.video.setAttribute('poster', this.originalPoster);
    else this.video.removeAttribute('poster');
    this.originalPoster = null;
  }

  private reattach(): void {
    this.detach();
    this.attach();
  }

  /** Fetch the playlist once and report whether it advanced (offline only). */
  private async poll(): Promise<void> {
    if (this.state.phase !== 'offline') return;
    const abort = new AbortController();
    this.pollAbort = abort;
    const timeout = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS);
    let summary = null;
    try {
      summary = await fetchSummary(this.opts.src, abort.signal);
      if (summary && summary.isMultivariant && summary.variantUri) {
        summary = await fetchSummary(new URL(summary.variantUri, absolute(this.opts.src)).href, abort.signal);
      }
    } catch {
      summary = null;
    } finally {
      clearTimeout(timeout);
      if (this.pollAbort === abort) this.pollAbort = null;
    }
    if (this.destroyed || this.state.phase !== 'offline') return;
    const out = pollOutcome(this.pollMemory, summary);
    this.pollMemory = out.memory;
    if (summary?.targetDuration) this.targetDuration = summary.targetDuration;
    this.dispatch({ type: 'pollResult', advanced: out.advanced });
  }

  // ------------------------------------------------------------------ stats

  getStats(now = Date.now()): PlayerStats {
    const v = this.video;
    const hls = this.hls;
    let playingDate: Date | null = null;
    if (hls) {
      playingDate = hls.playingDate;
    } else if (this.engine === 'native') {
      // Safari: getStartDate() is the PDT of currentTime 0.
      const start = (v as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
      const ms = start ? start.getTime() : NaN;
      if (Number.isFinite(ms)) playingDate = new Date(ms + v.currentTime * 1000);
    }
    const pd = playingDate && Number.isFinite(playingDate.getTime()) ? playingDate : null;
    const q = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
    let bytes = 0;
    let secs = 0;
    for (const [b, s] of this.loaded) {
      bytes += b;
      secs += s;
    }
    let protocol: PlayingProtocol | null = null;
    if (hls) {
      const d = hls.latestLevelDetails;
      if (d) protocol = hls.config.lowLatencyMode && ((d.partTarget ?? 0) > 0 || (d.partList?.length ?? 0) > 0) ? 'll-hls' : 'hls';
    } else if (this.engine === 'native') protocol = 'hls';
    const edge = hls ? hls.latency : NaN;
    const target = hls ? hls.targetLatency : null;
    const bw = hls ? hls.bandwidthEstimate : NaN;
    return {
      at: now,
      phase: this.state.phase,
      engine: this.engine,
      protocol,
      latencyMs: pd ? now - pd.getTime() : null,
      playingDate: pd ? pd.toISOString() : null,
      edgeLatencyS: Number.isFinite(edge) && edge > 0 ? edge : null,
      targetLatencyS: typeof target === 'number' && Number.isFinite(target) ? target : null,
      bufferAheadS: bufferAhead(v),
      bitrateBps: secs > 0 ? Math.round((bytes * 8) / secs) : null,
      bandwidthEstimateBps: Number.isFinite(bw) && bw > 0 ? Math.round(bw) : null,
      droppedFrames: q?.droppedVideoFrames ?? 0,
      totalFrames: q?.totalVideoFrames ?? 0,
      stalls: this.state.stalls,
      currentTime: v.currentTime || 0,
      playbackRate: v.playbackRate || 1,
      reason: this.state.reason,
    };
  }

  private addVideoListener(type: string, fn: EventListener): void {
    this.video.addEventListener(type, fn);
    this.videoListeners.push([type, fn]);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }
}

/**
 * Where to seek to reach the live-sync position `sync`, or null: not when less than
 * `tolerance` behind it, and never beyond the buffered range being played (kept 0.1 s short
 * of its end so playback does not run dry on arrival).
 */
export function liveCatchUpPosition(
  v: Pick<HTMLMediaElement, 'currentTime' | 'buffered'>,
  sync: number | null | undefined,
  tolerance: number,
): number | null {
  const t = v.currentTime;
  if (typeof sync !== 'number' || !Number.isFinite(sync) || sync - t <= tolerance) return null;
  const b = v.buffered;
  for (let i = 0; b && i < b.length; i++) {
    if (t >= b.start(i) - 0.1 && t <= b.end(i)) {
      const to = Math.min(sync, b.end(i) - 0.1);
      return to - t > tolerance ? to : null;
    }
  }
  return null;
}

/**
 * The playback rate that brings `latency` (hls.js's: live edge minus currentTime) back to
 * `target` (see TRIM_RATE): 1 unless behind and buffered; hysteresis keeps a trim going
 * until it is within TRIM_STOP_S.
 */
export function trimRate(latency: number, target: number | null | undefined, ahead: number, current: number): number {
  if (typeof target !== 'number' || !Number.isFinite(target) || !Number.isFinite(latency)) return 1;
  if (ahead < TRIM_MIN_BUFFER_S) return 1;
  const behind = latency - target;
  if (behind > TRIM_START_S) return TRIM_RATE;
  if (current > 1 && behind > TRIM_STOP_S) return current;
  return 1;
}

/** The parts of hls.js's state that decide its target latency (public API only). */
export interface TargetInputs {
  latestLevelDetails?: { holdBack?: number; partHoldBack?: number; partTarget?: number; targetduration?: number } | null;
  userConfig?: { liveSyncDuration?: number; liveSyncDurationCount?: number } | null;
  config: { lowLatencyMode?: boolean; liveSyncDuration?: number; liveSyncDurationCount?: number };
}

/**
 * The player's target latency, without hls.js's stall allowance: the user's liveSyncDuration,
 * or liveSyncDurationCount x TARGETDURATION, else in low-latency mode PART-HOLD-BACK plus one
 * PART-TARGET, else HOLD-BACK, and 3 x TARGETDURATION (hls.js's default count) when the
 * playlist has none (latency-controller.ts, hls.js 1.7).  Null before the first playlist.
 * The part above PART-HOLD-BACK (hls.js's own choice): with two-frame parts and the trim
 * (trimRate) holding the target, 0.4 s left a quarter to a third of a second buffered, and
 * test_origin_playback saw a stall in 2 of 6 minute-long runs on a quiet machine.
 */
export function baseTargetLatency(h: TargetInputs): number | null {
  const d = h.latestLevelDetails;
  if (!d) return null;
  const td = d.targetduration ?? 0;
  const user = h.userConfig ?? {};
  if (typeof user.liveSyncDuration === 'number' && user.liveSyncDuration > 0) return user.liveSyncDuration;
  if (typeof user.liveSyncDurationCount === 'number' && user.liveSyncDurationCount > 0) return user.liveSyncDurationCount * td;
  if (h.config.lowLatencyMode && d.partHoldBack) return d.partHoldBack + (d.partTarget ?? 0);
  const holdBack = d.holdBack || 0;
  if (holdBack > 0) return holdBack;
  return (typeof h.config.liveSyncDurationCount === 'number' ? h.config.liveSyncDurationCount : 3) * td;
}

export function bufferAhead(v: HTMLMediaElement): number {
  const b = v.buffered;
  const t = v.currentTime;
  if (!b) return 0;
  for (let i = 0; i < b.length; i++) {
    if (t >= b.start(i) - 0.1 && t <= b.end(i)) return Math.max(0, b.end(i) - t);
  }
  return 0;
}

function absolute(url: string): string {
  const base = typeof location !== 'undefined' ? location.href : 'http://localhost/';
  return new URL(url, base).href;
}

async function fetchSummary(url: string, signal: AbortSignal) {
  const res = await fetch(absolute(url), { cache: 'no-store', signal });
  if (!res.ok) return null;
  return summarizePlaylist(await res.text());
}
