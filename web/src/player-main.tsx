// player.html: one camera, full window, with a stats panel.  Embeddable in an <iframe>.
//   player.html?src=/live/cam_floor/stream.m3u8&profile=ll&controls=1&stats=1
// With &debug=1 the player handle is window.__player and the last stats window.__stats.

import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { HLSPlayer, type HLSPlayerHandle, type PlayerStats } from './HLSPlayer';
import { isProfileName } from './profiles';
import { formatSeconds } from './CameraTile';
import './styles.css';

declare global {
  interface Window {
    __player?: HLSPlayerHandle | null;
    __stats?: PlayerStats[];
  }
}

const q = new URLSearchParams(location.search);
const src = q.get('src') ?? '';
const profileParam = q.get('profile');
const profile = isProfileName(profileParam) ? profileParam : undefined;
const debug = q.has('debug');
const showStats = q.get('stats') !== '0';

function PlayerPage() {
  const [stats, setStats] = useState<PlayerStats | null>(null);
  if (!src) {
    return <p className="empty">Give the playlist URL as ?src=…</p>;
  }
  return (
    <div className="player-page">
      <HLSPlayer
        ref={(h) => {
          if (debug) window.__player = h;
        }}
        src={src}
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
          <dt>latency</dt>
          <dd data-stat="latency">{formatSeconds(stats.latencyMs)}</dd>
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
