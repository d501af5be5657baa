// Test page (not shipped): mounts and unmounts HLSPlayer again and again, so that
// e2e/run.mjs can measure whether anything survives an unmount.
//   memtest.html?src=/live/cam_a/stream.m3u8
// window.__memtest.cycle(n) mounts a player, waits for its first fragment to be buffered
// (or 4 s), unmounts it, n times.  Every hls.js instance and <video> is tracked with a
// WeakRef, so after a forced GC `alive()` tells how many are still reachable.

import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import Hls from 'hls.js';
import { HLSPlayer } from '../../src/HLSPlayer';

const src = new URLSearchParams(location.search).get('src') ?? '';
const root = createRoot(document.getElementById('root')!);
const hlsRefs: WeakRef<Hls>[] = [];
const videoRefs: WeakRef<HTMLVideoElement>[] = [];
let buffered = 0;

function mountOnce(i: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Unmount synchronously: the cleanup must leave nothing behind.
      flushSync(() => root.render(<div id="empty" />));
      resolve();
    };
    const timer = setTimeout(finish, 4000);
    const onHls = (hls: Hls | null) => {
      if (!hls) return;
      hlsRefs.push(new WeakRef(hls));
      if (hls.media) videoRefs.push(new WeakRef(hls.media as HTMLVideoElement));
      hls.once(Hls.Events.FRAG_BUFFERED, () => {
        buffered += 1;
        setTimeout(finish, 50);
      });
    };
    flushSync(() =>
      root.render(<HLSPlayer key={i} src={src} profile="ultra-low" onHls={onHls} statsIntervalMs={250} style={{ width: 320, height: 180 }} />),
    );
  });
}

async function cycle(n: number): Promise<{ mounted: number; buffered: number }> {
  for (let i = 0; i < n; i++) await mountOnce(i);
  return { mounted: n, buffered };
}

function alive(): { hls: number; videos: number; tracked: number; videosInDom: number } {
  return {
    hls: hlsRefs.filter((r) => r.deref() !== undefined).length,
    videos: videoRefs.filter((r) => r.deref() !== undefined).length,
    tracked: hlsRefs.length,
    videosInDom: document.querySelectorAll('video').length,
  };
}

(window as unknown as { __memtest: unknown }).__memtest = { cycle, alive, ready: true };
