// Which protocol LivePlayer plays, as a pure state machine: (state, event) -> (state, actions).
// LivePlayer (live-controller.ts) feeds it what happened and carries out the actions; nothing
// here touches WebRTC, hls.js, the DOM or a clock (protocol.test.ts covers every transition).
//
// The ladder, best first:
//   'auto'    -> webrtc, ll-hls   (the ll-hls rung plays LL-HLS when the playlist has parts
//                                  and classic HLS when it has none: HLSPlayer decides in
//                                  place from the playlist, with no second start)
//   'webrtc'  -> webrtc           (retried with backoff, never falls back)
//   'll-hls'  -> ll-hls
//   'hls'     -> hls
//
//  start                -> play the top rung
//  failed(p)            -> p is the rung playing (it could not start within the connect
//                          budget, or it was lost): play the next rung at once, and schedule
//                          a probe of the top rung after probeBaseDelayMs.  On the last rung:
//                          retry it after a backoff (HLSPlayer retries HLS by itself, so the
//                          machine only does this for a lone webrtc rung).
//  probeResult(ok)      -> ok: move up (adopt the probe's session); not ok: next probe after
//                          a doubled delay, capped at probeMaxDelayMs.
//  playing(p)           -> p delivers frames: forget the failures of p.

export type Protocol = 'webrtc' | 'll-hls' | 'hls';
export type ProtocolChoice = Protocol | 'auto';

export const PROTOCOL_CHOICES: readonly ProtocolChoice[] = ['auto', 'webrtc', 'll-hls', 'hls'];

export function isProtocolChoice(v: unknown): v is ProtocolChoice {
  return typeof v === 'string' && (PROTOCOL_CHOICES as readonly string[]).includes(v);
}

export interface LadderOptions {
  /** A WebRTC attempt that is not connected and showing frames by then has failed (ms). */
  connectTimeoutMs: number;
  /** First delay before trying the top rung again after falling back (ms). */
  probeBaseDelayMs: number;
  /** Cap of that delay (ms). */
  probeMaxDelayMs: number;
  factor: number;
  /** A WebRTC session that stays `disconnected` this long is lost (ms). */
  disconnectGraceMs: number;
}

export const DEFAULT_LADDER_OPTIONS: Readonly<LadderOptions> = Object.freeze({
  connectTimeoutMs: 4000,
  probeBaseDelayMs: 5000,
  probeMaxDelayMs: 60000,
  factor: 2,
  disconnectGraceMs: 3000,
});

export function ladderFor(choice: ProtocolChoice): Protocol[] {
  return choice === 'auto' ? ['webrtc', 'll-hls'] : [choice];
}

export interface LadderState {
  choice: ProtocolChoice;
  ladder: Protocol[];
  /** The rung playing now (null before start). */
  active: Protocol | null;
  /** Probes (or lone-rung retries) made since the last success. */
  attempt: number;
  /** A probe or retry is scheduled or running. */
  pending: boolean;
  /** Why the rung above the active one is not playing. */
  reason: string | null;
}

export type LadderEvent =
  | { type: 'start' }
  | { type: 'failed'; protocol: Protocol; reason: string; retryAfterMs?: number | null }
  | { type: 'probeResult'; protocol: Protocol; ok: boolean; reason?: string; retryAfterMs?: number | null }
  | { type: 'retryDue'; protocol: Protocol }
  | { type: 'playing'; protocol: Protocol };

export type LadderAction =
  /** Tear down whatever plays and play `protocol` (adopt = take over the probe's session). */
  | { type: 'play'; protocol: Protocol; adopt?: boolean }
  /** After delayMs, try `protocol` in the background while the active rung keeps playing. */
  | { type: 'probe'; protocol: Protocol; delayMs: number }
  /** After delayMs, dispatch retryDue (lone rung: nothing plays meanwhile). */
  | { type: 'retry'; protocol: Protocol; delayMs: number };

export function initialLadderState(choice: ProtocolChoice): LadderState {
  return { choice, ladder: ladderFor(choice), active: null, attempt: 0, pending: false, reason: null };
}

export function probeDelay(attempt: number, o: LadderOptions = DEFAULT_LADDER_OPTIONS, retryAfterMs?: number | null): number {
  const d = Math.min(o.probeMaxDelayMs, o.probeBaseDelayMs * Math.pow(o.factor, Math.max(0, attempt)));
  return Math.max(d, retryAfterMs ?? 0);
}

export function reduceLadder(
  s: LadderState,
  e: LadderEvent,
  opts: Partial<LadderOptions> = {},
): { state: LadderState; actions: LadderAction[] } {
  const o = { ...DEFAULT_LADDER_OPTIONS, ...opts };
  const top = s.ladder[0];
  switch (e.type) {
    case 'start':
      return { state: { ...s, active: top, attempt: 0, pending: false, reason: null }, actions: [{ type: 'play', protocol: top }] };

    case 'failed': {
      if (e.protocol !== s.active) return { state: s, actions: [] };
      const i = s.ladder.indexOf(e.protocol);
      if (i >= 0 && i < s.ladder.length - 1) {
        const next = s.ladder[i + 1];
        const actions: LadderAction[] = [{ type: 'play', protocol: next }];
        const st = { ...s, active: next, reason: e.reason };
        if (!s.pending) {
          actions.push({ type: 'probe', protocol: top, delayMs: probeDelay(s.attempt, o, e.retryAfterMs) });
          st.pending = true;
        }
        return { state: st, actions };
      }
      // The last (or only) rung.  HLS retries itself; a lone webrtc rung is retried here.
      if (e.protocol !== 'webrtc' || s.pending) return { state: { ...s, reason: e.reason }, actions: [] };
      return {
        state: { ...s, reason: e.reason, pending: true },
        actions: [{ type: 'retry', protocol: 'webrtc', delayMs: probeDelay(s.attempt, o, e.retryAfterMs) }],
      };
    }

    case 'retryDue':
      if (e.protocol !== s.active) return { state: s, actions: [] };
      return { state: { ...s, pending: false, attempt: s.attempt + 1 }, actions: [{ type: 'play', protocol: e.protocol }] };

    case 'probeResult': {
      if (!s.pending) return { state: s, actions: [] };
      const ai = s.active ? s.ladder.indexOf(s.active) : -1;
      const pi = s.ladder.indexOf(e.protocol);
      if (pi < 0 || (ai >= 0 && pi >= ai)) return { state: { ...s, pending: false }, actions: [] };
      if (e.ok) {
        return { state: { ...s, active: e.protocol, attempt: 0, pending: false, reason: null }, actions: [{ type: 'play', protocol: e.protocol, adopt: true }] };
      }
      const attempt = s.attempt + 1;
      return {
        state: { ...s, attempt, reason: e.reason ?? s.reason },
        actions: [{ type: 'probe', protocol: e.protocol, delayMs: probeDelay(attempt, o, e.retryAfterMs) }],
      };
    }

    case 'playing':
      if (e.protocol !== s.active || s.ladder.indexOf(e.protocol) !== 0) return { state: s, actions: [] };
      return { state: s.attempt === 0 && s.reason === null ? s : { ...s, attempt: 0, reason: null }, actions: [] };
  }
  return { state: s, actions: [] };
}
