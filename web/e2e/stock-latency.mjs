#!/usr/bin/env node
// Stock hls.js on the edgestream LL origin: what a shop's own player gets (docs/web.md,
// "hls.js settings for your own player").  Not part of `npm run e2e`; run by hand:
//
//   ES_BINARY=../build/edgestream ES_TESTCAM=../build/tests/es-testcam node e2e/stock-latency.mjs
//
// One es-testcam (854x480, 15 fps) -> one edgestream (profile ll) -> a page with nothing but
// node_modules/hls.js/dist/hls.min.js (no edgestream code) in Debian's Chromium.  For each
// config, JOINS (5) fresh pages; per join the latency is the median of 15 samples of
// Date.now() - hls.playingDate (PDT-based, like the player's), 200 ms apart, taken after
// 6 s of playback.  `+snippet` adds the docs' few lines that give the target back after a
// stall and jump to the live-sync position within the buffer.
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { Daemon, TestCam, findBinaries, killAllStarted } from './lib/edgestream.mjs';
import { launchBrowser } from './lib/browser.mjs';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'es-stock-'));
process.chdir(path.dirname(new URL(import.meta.url).pathname) + '/..');
const www = path.join(tmp, 'www');
const bins = findBinaries(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..'));
const cam = new TestCam({ binary: bins.testcam, label: 'cam', logDir: tmp });
let d, b;
const configs = {
  recommended: { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 },
  'recommended+snippet': { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 },
  'defaults+lowLatencyMode': { lowLatencyMode: true },
  'liveSyncDurationCount:0': { lowLatencyMode: true, liveSyncDurationCount: 0 },
};
try {
  await cam.start();
  fs.mkdirSync(www, { recursive: true });
  fs.copyFileSync('node_modules/hls.js/dist/hls.min.js', path.join(www, 'hls.min.js'));
  fs.writeFileSync(path.join(www, 'stock.html'), `<!doctype html><video muted autoplay playsinline></video><script src="hls.min.js"></script><script>
const q = new URLSearchParams(location.search); const v = document.querySelector('video');
const hls = new Hls(JSON.parse(q.get('cfg'))); window.hls = hls; hls.loadSource(q.get('src')); hls.attachMedia(v);
let stall = 0; hls.on(Hls.Events.ERROR, (e, d) => { if (d.details === 'bufferStalledError') stall++; }); window.stalls = () => stall;
if (q.has('snippet')) {
  // The snippet from docs/web.md, verbatim below this line.
  let due = 0; // when to take the target back / jump to live (ms since epoch), 0 = nothing due
  v.addEventListener('playing', () => { if (!due) due = Date.now() + 1000; }, { once: true });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) due = Date.now() + 2000; });
  setInterval(() => {
    const d = hls.latestLevelDetails;
    if (!d || !due || Date.now() < due || v.paused) return;
    due = 0;
    const base = d.partHoldBack || d.holdBack;
    if (base && hls.targetLatency > base + 0.01) hls.targetLatency = base;
    const to = hls.liveSyncPosition, b = v.buffered;
    for (let i = 0; i < b.length; i++) {
      if (v.currentTime >= b.start(i) - 0.1 && v.currentTime <= b.end(i)) {
        const t = Math.min(to ?? 0, b.end(i) - 0.1);
        if (t - v.currentTime > 0.25) v.currentTime = t;
      }
    }
  }, 250);
}
</script>`);
  d = new Daemon({ binary: bins.edgestream, workDir: tmp, webRoot: www, cameras: [{ id: 'c', name: 'C', profile: 'll', url: cam.url }] });
  const base = await d.start();
  await d.waitPlaylist('c', { parts: true });
  b = await launchBrowser();
  const joins = Number(process.env.JOINS || 5);
  for (const [name, cfg] of Object.entries(configs)) {
    const meds = []; const tgts = []; let stalls = 0;
    for (let j = 0; j < joins; j++) {
      const page = await b.context.newPage();
      await page.goto(`${base}stock.html?src=/live/c/stream.m3u8&cfg=${encodeURIComponent(JSON.stringify(cfg))}${name.includes('snippet') ? '&snippet=1' : ''}`);
      await page.waitForFunction(() => window.hls?.playingDate && document.querySelector('video').currentTime > 0.5, null, { timeout: 20000 });
      await new Promise((r) => setTimeout(r, 6000));
      const s = [];
      for (let i = 0; i < 15; i++) { s.push(await page.evaluate(() => Date.now() - window.hls.playingDate.getTime())); await new Promise((r) => setTimeout(r, 200)); }
      s.sort((a, c) => a - c); meds.push(s[7]);
      tgts.push(await page.evaluate(() => window.hls.targetLatency));
      stalls += await page.evaluate(() => window.stalls());
      await page.close();
    }
    const so = [...meds].sort((a, c) => a - c);
    console.log(`${name}: per-join median ${meds.map((m) => (m / 1000).toFixed(2)).join(', ')} s; p50 ${(so[Math.floor(so.length / 2)] / 1000).toFixed(2)} s; targets ${tgts.map((t) => t?.toFixed(2)).join(', ')}; stalls ${stalls}`);
  }
} finally { if (b) await b.close(); if (d) await d.stop(); await cam.kill(); killAllStarted(); fs.rmSync(tmp, { recursive: true, force: true }); }
