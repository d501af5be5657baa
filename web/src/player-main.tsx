// player.html: one camera, full window, with a stats panel.  Embeddable in an <iframe>.
//   player.html?src=/live/cam_floor/stream.m3u8&controls=1&stats=1
// It plays with LivePlayer, protocol 'auto' (&protocol=webrtc|ll-hls|hls forces one): WebRTC
// when the origin offers it, else LL-HLS when the playlist has parts (detected from the
// playlist itself; no parameter needed), else classic HLS.  &profile= picks the profile
// for a classic playlist (an LL playlist always gets the `ll` row) and, without
// &protocol=, means HLS ('ll-hls'): such links predate WebRTC and expect hls.js.
// With &debug=1 the player handle is window.__player and the last stats window.__stats.

import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { PlayerStats } from './HLSPlayer';
import { LivePlayer, PROTOCOL_LABEL, type LivePlayerHandle } from './LivePlayer';
import { isProfileName } from './profiles';
import { isProtocolChoice } from './protocol';
import { formatSeconds } from './CameraTile';
import './styles.css';

declare global {
  interface Window {
    __player?: LivePlayerHandle | null;
    __stats?: PlayerStats[];
  }
}

const q = new URLSearchParams(location.search);
const src = q.get('src') ?? '';
const profileParam = q.get('profile');
const profile = isProfileName(profileParam) ? profileParam : undefined;
const protocolParam = q.get('protocol');
// A link that names a profile asks for HLS with it (links made before WebRTC, e.g.
// bench/latency.mjs, keep measuring hls.js); LL still comes from the playlist.
const protocol = isProtocolChoice(protocolParam) ? protocolParam : profileParam !== null ? 'll-hls' : 'auto';
const debug = q.has('debug');
const showStats = q.get('stats') !== '0';

function PlayerPage() {
  const [stats, setStats] = useState<PlayerStats | null>(null);
  if (!src) {
    return <p className="empty">Give the playlist URL as ?src=…</p>;
  }
  return (
    <div className="player-page">
      <LivePlayer
        ref={(h) => {
          if (debug) window.__player = h;
        }}
        src={src}
        protocol={protocol}
        profile={profile}
        controls={q.get('controls') === '1'}
        title="Live video"
        className="player-page-video"
        style={{ position: "absolute", inset: 0 }}
        onStats={(s) => {
          setStats(s);
          if (debug) (window.__stats ??= []).push(s);
        }}
      />
      {showStats && stats ? (
        <dl className="stats-panel" aria-label="Player statistics">
          <dt>state</dt>
          <dd data-stat="phase">{stats.phase}</dd>
          <dt>protocol</dt>
          <dd data-stat="protocol">{stats.protocol ? PROTOCOL_LABEL[stats.protocol] : '–'}</dd>
          <dt>latency</dt>
          <dd data-stat="latency">{formatSeconds(stats.latencyMs, 2)}</dd>
          <dt>buffer</dt>
          <dd data-stat="buffer">{stats.bufferAheadS.toFixed(1)} s</dd>
          <dt>bitrate</dt>
          <dd data-stat="bitrate">{stats.bitrateBps === null ? '–' : `${(stats.bitrateBps / 1000).toFixed(0)} kbit/s`}</dd>
          <dt>dropped</dt>
          <dd data-stat="dropped">
            {stats.droppedFrames}/{stats.totalFrames}
          </dd>
          <dt>stalls</dt>
          <dd data-stat="stalls">{stats.stalls}</dd>
        </dl>
      ) : null}
    </div>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <PlayerPage />
  </StrictMode>,
);
