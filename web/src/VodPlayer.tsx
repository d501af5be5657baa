// VodPlayer: plays a recording from a wall-clock moment.
//
//   <VodPlayer src="/vod/cam_till/index.m3u8?start=…&end=…" target={Date.parse('…')} onTime={…} />
//
// The origin's VOD playlist starts with the segment that holds `target` (docs/recording.md),
// so the picture at `target` is somewhere inside it: hls.js is told to start loading at the
// media position that shows `target` (timeline.ts positionFor, from the fragments'
// PROGRAM-DATE-TIME), not at 0. A target in a hole starts at the next recorded segment.
// The parent gives each new moment its own element (key), so a jump is a fresh load.
// Where MSE is missing (Safari on iPhone) native HLS plays from the playlist's first segment
// (within one segment of the target).

import { useEffect, useRef, useState } from 'react';
import Hls from 'hls.js';
import { positionFor, timeAt, type Frag } from './timeline';

export type VodState = 'loading' | 'playing' | 'ended' | 'error';

export interface VodPlayerProps {
  src: string;
  /** The wall-clock time (ms) to start at. */
  target: number;
  /** The wall-clock time on screen, as it plays (null while unknown). */
  onTime?: (t: number | null) => void;
  onState?: (state: VodState, message: string | null) => void;
  controls?: boolean;
  title?: string;
  className?: string;
}

const STATE_TEXT: Record<VodState, string> = { loading: 'Loading recording…', playing: '', ended: 'End of this recording', error: '' };

export function VodPlayer({ src, target, onTime, onState, controls = true, title, className }: VodPlayerProps) {
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const [state, setState] = useState<VodState>('loading');
  const [message, setMessage] = useState<string | null>(null);
  const callbacks = useRef({ onTime, onState });
  callbacks.current = { onTime, onState };

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return undefined;
    let frags: Frag[] = [];
    let done = false;
    const report = (s: VodState, msg: string | null = null) => {
      if (done) return;
      setState(s);
      setMessage(msg);
      callbacks.current.onState?.(s, msg);
    };
    const onPlaying = () => report('playing');
    const onEnded = () => report('ended');
    const onTimeUpdate = () => callbacks.current.onTime?.(frags.length ? timeAt(frags, video.currentTime) : null);
    video.addEventListener('playing', onPlaying);
    video.addEventListener('ended', onEnded);
    video.addEventListener('timeupdate', onTimeUpdate);
    report('loading');

    let hls: Hls | null = null;
    if (Hls.isSupported()) {
      hls = new Hls({ autoStartLoad: false, maxBufferLength: 20, backBufferLength: 30 });
      let started = false;
      hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
        if (started || !hls) return;
        started = true;
        frags = data.details.fragments.map((f) => ({ start: f.start, duration: f.duration, programDateTime: f.programDateTime ?? null }));
        const pos = positionFor(frags, target);
        if (pos === null) {
          report('error', 'Nothing recorded after this time');
          return;
        }
        hls.startLoad(pos);
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        const status = data.response?.code;
        report('error', status === 404 ? 'Nothing recorded from this time' : `Cannot play the recording (${status ? `HTTP ${status}` : data.details})`);
        hls?.destroy();
        hls = null;
      });
      hls.attachMedia(video);
      hls.loadSource(src);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src;
    } else {
      report('error', 'This browser cannot play HLS');
    }

    return () => {
      done = true;
      video.removeEventListener('playing', onPlaying);
      video.removeEventListener('ended', onEnded);
      video.removeEventListener('timeupdate', onTimeUpdate);
      hls?.destroy();
      video.removeAttribute('src');
      video.load?.();
    };
  }, [src, target]);

  const text = state === 'error' ? message : STATE_TEXT[state];
  return (
    <div className={['vodplayer', className].filter(Boolean).join(' ')} data-vod-state={state} data-vod-target={new Date(target).toISOString()}>
      <video
        ref={videoRef}
        muted
        autoPlay
        playsInline
        controls={controls}
        title={title}
        aria-label={title}
        style={{ display: 'block', width: '100%', height: '100%', objectFit: 'contain', background: '#000' }}
      />
      {text ? (
        <div className={`vodplayer-status${state === 'error' ? ' vodplayer-error' : ''}`} role="status" aria-live="polite">
          {text}
        </div>
      ) : null}
    </div>
  );
}

export default VodPlayer;
