// A small WHEP client (draft-ietf-wish-whep; it reuses WHIP, RFC 9725): receive one camera
// over WebRTC from the edgestream origin's `POST /whep/<camera>`.
//
//   const s = await whepConnect('/whep/cam_floor', { token });
//   video.srcObject = s.stream;  ...  await s.close();
//
// - One RTCPeerConnection, recvonly video + audio transceivers (bundled).
// - The server is ICE-lite and answers trickle PATCH with 405, so the offer is POSTed only
//   once ICE gathering is complete (all our candidates inside it), capped at
//   `gatherTimeoutMs`; the answer carries all of the server's candidates.
// - POST `application/sdp` (+ `Authorization: Bearer <token>` when there is one); expects
//   `201 Created`, the SDP answer and a `Location` for the session; anything else is a
//   WhepError of kind 'http' with the status (and Retry-After, if sent).
// - `receiver.jitterBufferTarget` is set low (default 0 ms: play a frame as soon as it is
//   complete) where the browser has it; Chrome's older `playoutDelayHint` (seconds) otherwise.
// - Resolves once ICE and DTLS are connected; rejects with kind 'ice' / 'dtls' / 'timeout'
//   when they do not connect within `connectTimeoutMs` of the call.
// - `close()` closes the peer connection and DELETEs the session's Location (once).
//
// Everything the browser provides (RTCPeerConnection, fetch, MediaStream) can be injected,
// so the unit tests (whep.test.ts) drive it with fakes.

export type WhepErrorKind = 'unsupported' | 'http' | 'network' | 'ice' | 'dtls' | 'timeout' | 'aborted' | 'sdp';

export class WhepError extends Error {
  readonly kind: WhepErrorKind;
  readonly status: number | null;
  /** Seconds, from a 409/503 answer's Retry-After. */
  readonly retryAfterS: number | null;
  constructor(kind: WhepErrorKind, message: string, status: number | null = null, retryAfterS: number | null = null) {
    super(message);
    this.name = 'WhepError';
    this.kind = kind;
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

type PCCtor = new (config?: RTCConfiguration) => RTCPeerConnection;

export interface WhepOptions {
  /** Bearer token (the origin's `origin.token`), sent as `Authorization: Bearer …`. */
  token?: string | null;
  /** Longest wait for ICE gathering to complete before the POST (ms, default 1500). */
  gatherTimeoutMs?: number;
  /** ICE + DTLS must be connected this long after the call began (ms, default 4000). */
  connectTimeoutMs?: number;
  /** receiver.jitterBufferTarget in ms (default 0; Chrome accepts 0-4000). */
  jitterBufferTargetMs?: number;
  iceServers?: RTCIceServer[];
  signal?: AbortSignal;
  fetch?: typeof fetch;
  RTCPeerConnection?: PCCtor;
  /** Called with the peer connection's state after the session is up ('disconnected', 'failed', 'closed', 'connected'). */
  onConnectionState?: (state: RTCPeerConnectionState) => void;
  log?: (msg: string) => void;
}

export const WHEP_DEFAULTS = Object.freeze({ gatherTimeoutMs: 1500, connectTimeoutMs: 4000, jitterBufferTargetMs: 0 });

export interface WhepSession {
  readonly pc: RTCPeerConnection;
  /** The session URL from `Location` (absolute), null when the server sent none. */
  readonly location: string | null;
  /** The received tracks (video first). */
  readonly tracks: MediaStreamTrack[];
  /** A MediaStream of `tracks` for `video.srcObject` (made on first use). */
  readonly stream: MediaStream;
  /** Close the peer connection and DELETE the session (idempotent). */
  close(): Promise<void>;
  readonly closed: boolean;
}

function parseRetryAfter(v: string | null): number | null {
  if (!v) return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Wait for ICE gathering to complete, at most `ms`. Resolves true when complete. */
export function waitGatheringComplete(pc: RTCPeerConnection, ms: number): Promise<boolean> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (v: boolean) => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate as EventListener);
      resolve(v);
    };
    const onState = () => {
      if (pc.iceGatheringState === 'complete') done(true);
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent) => {
      if (!e.candidate) done(true);
    };
    const timer = setTimeout(() => done(pc.iceGatheringState === 'complete'), ms);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate as EventListener);
  });
}

/** Set a low jitter buffer target on every receiver, where the browser supports it. Returns how many were set. */
export function setLowJitterBuffer(pc: RTCPeerConnection, ms: number): number {
  let n = 0;
  for (const r of pc.getReceivers()) {
    const rr = r as unknown as Record<string, unknown>;
    try {
      if ('jitterBufferTarget' in rr) {
        rr.jitterBufferTarget = ms;
        n++;
      } else if ('playoutDelayHint' in rr) {
        rr.playoutDelayHint = ms / 1000;
        n++;
      }
    } catch {
      /* out of range for this browser: leave its default */
    }
  }
  return n;
}

/** Wait until ICE and DTLS are connected, or fail/time out. */
function waitConnected(pc: RTCPeerConnection, deadline: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const state = () => pc.connectionState ?? mapIce(pc.iceConnectionState);
    const done = (err: WhepError | null) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      pc.removeEventListener('iceconnectionstatechange', check);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      const s = state();
      if (s === 'connected') done(null);
      else if (s === 'failed' || s === 'closed') {
        // ICE reached the server but the handshake on top of it failed: DTLS.
        const ice = pc.iceConnectionState;
        if (ice === 'connected' || ice === 'completed') done(new WhepError('dtls', 'DTLS handshake failed'));
        else done(new WhepError('ice', `ICE failed (${ice})`));
      }
    };
    const onAbort = () => done(new WhepError('aborted', 'aborted'));
    const timer = setTimeout(() => {
      const ice = pc.iceConnectionState;
      const iceUp = ice === 'connected' || ice === 'completed';
      done(new WhepError('timeout', iceUp ? 'DTLS did not complete in time' : `ICE did not connect in time (${ice})`));
    }, Math.max(0, deadline - Date.now()));
    pc.addEventListener('connectionstatechange', check);
    pc.addEventListener('iceconnectionstatechange', check);
    signal?.addEventListener('abort', onAbort);
    check();
  });
}

function mapIce(s: RTCIceConnectionState): RTCPeerConnectionState {
  if (s === 'completed') return 'connected';
  if (s === 'checking') return 'connecting';
  return s as RTCPeerConnectionState;
}

/** POST an offer to `url` and return a connected session (see the header comment). */
export async function whepConnect(url: string, opts: WhepOptions = {}): Promise<WhepSession> {
  const started = Date.now();
  const connectTimeoutMs = opts.connectTimeoutMs ?? WHEP_DEFAULTS.connectTimeoutMs;
  const deadline = started + connectTimeoutMs;
  const PC: PCCtor | undefined = opts.RTCPeerConnection ?? (typeof RTCPeerConnection !== 'undefined' ? RTCPeerConnection : undefined);
  const doFetch = opts.fetch ?? (typeof fetch !== 'undefined' ? fetch.bind(globalThis) : undefined);
  if (!PC) throw new WhepError('unsupported', 'this browser has no RTCPeerConnection');
  if (!doFetch) throw new WhepError('unsupported', 'no fetch');
  const log = opts.log ?? (() => {});
  const signal = opts.signal;
  if (signal?.aborted) throw new WhepError('aborted', 'aborted');

  const pc = new PC({ iceServers: opts.iceServers ?? [], bundlePolicy: 'max-bundle' });
  const auth: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  let sessionUrl: string | null = null;
  let closed = false;
  let streamObj: MediaStream | null = null;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      pc.close();
    } catch {
      /* already closed */
    }
    const where = sessionUrl;
    if (where) {
      // keepalive: the DELETE still goes out when this runs from a page being unloaded.
      await doFetch(where, { method: 'DELETE', headers: auth, keepalive: true }).then(
        (r) => log(`DELETE ${where}: ${r.status}`),
        (e: unknown) => log(`DELETE ${where} failed: ${String(e)}`),
      );
    }
  };

  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const complete = await waitGatheringComplete(pc, Math.min(opts.gatherTimeoutMs ?? WHEP_DEFAULTS.gatherTimeoutMs, Math.max(0, deadline - Date.now())));
    if (!complete) log('ICE gathering not complete in time; sending the candidates gathered so far');
    if (signal?.aborted) throw new WhepError('aborted', 'aborted');
    const sdp = pc.localDescription?.sdp ?? offer.sdp ?? '';
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp', ...auth },
        body: sdp,
        signal,
        cache: 'no-store',
      });
    } catch (err) {
      if (signal?.aborted) throw new WhepError('aborted', 'aborted');
      throw new WhepError('network', `POST ${url}: ${String(err)}`);
    }
    if (res.status !== 201 && res.status !== 200) {
      throw new WhepError('http', `POST ${url}: HTTP ${res.status}`, res.status, parseRetryAfter(res.headers.get('Retry-After')));
    }
    const loc = res.headers.get('Location');
    if (loc) {
      try {
        sessionUrl = new URL(loc, new URL(url, typeof document !== 'undefined' ? document.baseURI : 'http://localhost/')).href;
      } catch {
        sessionUrl = loc;
      }
    } else {
      log(`POST ${url}: ${res.status} without Location; the session cannot be DELETEd`);
    }
    const answer = await res.text();
    if (!answer.startsWith('v=')) throw new WhepError('sdp', `POST ${url}: the answer is not SDP`);
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (err) {
      throw new WhepError('sdp', `the answer was refused: ${String(err)}`);
    }
    const set = setLowJitterBuffer(pc, opts.jitterBufferTargetMs ?? WHEP_DEFAULTS.jitterBufferTargetMs);
    log(`answer applied (${set} receivers with a low jitter buffer target); waiting for ICE + DTLS`);
    await waitConnected(pc, deadline, signal);
    log(`connected in ${Date.now() - started} ms`);
  } catch (err) {
    await close();
    throw err instanceof WhepError ? err : new WhepError('network', String(err));
  }

  pc.addEventListener('connectionstatechange', () => opts.onConnectionState?.(pc.connectionState));
  const tracks = () => {
    const t = pc.getReceivers().map((r) => r.track).filter((x): x is MediaStreamTrack => !!x);
    return [...t.filter((x) => x.kind === 'video'), ...t.filter((x) => x.kind !== 'video')];
  };
  return {
    pc,
    get location() {
      return sessionUrl;
    },
    get tracks() {
      return tracks();
    },
    get stream() {
      if (!streamObj) streamObj = new MediaStream(tracks());
      return streamObj;
    },
    close,
    get closed() {
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------- latency

/** Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix). */
export const NTP_UNIX_OFFSET_MS = 2208988800 * 1000;

export interface WebRtcVideoStats {
  /** Glass-to-glass latency (ms): now - the sender's capture time of the frame being played, or null. */
  latencyMs: number | null;
  /** How the latency was found. */
  latencySource: 'estimatedPlayoutTimestamp' | null;
  framesDecoded: number;
  framesDropped: number;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  /** Mean time a frame waited in the jitter buffer (ms), null before any. */
  jitterBufferMs: number | null;
  /** Audio packets received (the inbound-rtp of kind audio). */
  audioPacketsReceived: number;
}

/**
 * WebRTC latency from an RTCStatsReport.  Chrome's inbound-rtp `estimatedPlayoutTimestamp`
 * (webrtc-stats) is the sender's NTP time (ms since 1900) of the frame the receiver is
 * playing out now: the RTP timestamp of that frame mapped to the sender's clock through the
 * newest RTCP sender report (NTP <-> RTP pair).  The edgestream server stamps its sender
 * reports from the camera's capture clock, so `now (as NTP) - estimatedPlayoutTimestamp` is
 * capture-to-playout, i.e. glass-to-glass minus the display's own frame delay.  It needs
 * the viewer's clock to agree with the box's (NTP); until the first sender report arrives
 * there is no figure (null).
 */
export function webrtcVideoStats(report: RTCStatsReport | Iterable<[string, Record<string, unknown>]>, nowMs: number): WebRtcVideoStats {
  const out: WebRtcVideoStats = {
    latencyMs: null,
    latencySource: null,
    framesDecoded: 0,
    framesDropped: 0,
    packetsReceived: 0,
    packetsLost: 0,
    bytesReceived: 0,
    jitterBufferMs: null,
    audioPacketsReceived: 0,
  };
  const values: Array<Record<string, unknown>> = [];
  const it = report as { forEach?: (fn: (v: Record<string, unknown>) => void) => void };
  if (typeof it.forEach === 'function' && !(Symbol.iterator in (report as object))) it.forEach((v) => values.push(v));
  else for (const [, v] of report as Iterable<[string, Record<string, unknown>]>) values.push(v);
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  for (const s of values) {
    if (s.type !== 'inbound-rtp') continue;
    const kind = s.kind ?? s.mediaType;
    if (kind === 'audio') {
      out.audioPacketsReceived += n(s.packetsReceived);
      continue;
    }
    if (kind !== 'video') continue;
    out.framesDecoded += n(s.framesDecoded);
    out.framesDropped += n(s.framesDropped);
    out.packetsReceived += n(s.packetsReceived);
    out.packetsLost += n(s.packetsLost);
    out.bytesReceived += n(s.bytesReceived);
    const emitted = n(s.jitterBufferEmittedCount);
    if (emitted > 0) out.jitterBufferMs = (n(s.jitterBufferDelay) / emitted) * 1000;
    const ept = s.estimatedPlayoutTimestamp;
    if (typeof ept === 'number' && Number.isFinite(ept) && ept > NTP_UNIX_OFFSET_MS) {
      const lat = nowMs + NTP_UNIX_OFFSET_MS - ept;
      // A sender clock far off ours gives nonsense; leave it out rather than show it.
      if (lat > -1000 && lat < 60000) {
        out.latencyMs = lat;
        out.latencySource = 'estimatedPlayoutTimestamp';
      }
    }
  }
  return out;
}
