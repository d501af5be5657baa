#!/usr/bin/env node
// Glass-to-glass latency of the edgestream origin in Debian's Chromium with hls.js
// (the real player page, web/dist/player.html, served by the origin itself).
//
//   node bench/latency.mjs --base http://127.0.0.1:8080/ --camera cam_ll --profile ll --seconds 60
//
// Latency is Date.now() - hls.playingDate, sampled every 250 ms once playback runs:
// PROGRAM-DATE-TIME of the frame on screen against this machine's clock (the camera and
// the browser share it here). Stalls are counted three ways: <video> `waiting` events after
// playback started, hls.js BUFFER_STALLED_ERROR events, and the player's own stall counter.
// Prints one JSON object on stdout. Exit status 0 unless the page could not play at all.

import { launchBrowser } from '../web/e2e/lib/browser.mjs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const base = arg('base', 'http://127.0.0.1:8080/');
const camera = arg('camera', 'cam_ll');
const profile = arg('profile', 'll');
const seconds = Number(arg('seconds', '60'));
const warmup = Number(arg('warmup', '5'));
const token = arg('token', '');

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const browser = await launchBrowser();
const out = { base, camera, profile, seconds, warmup };
try {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const src = `/live/${camera}/stream.m3u8${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const url = new URL(`player.html?src=${encodeURIComponent(src)}&profile=${profile}&debug=1&stats=0`, base);
  await page.goto(url.href);
  // Wait for playback (the video's time advancing), at most 30 s.
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && v.currentTime > 0.5 && !v.paused && window.__player?.hls?.playingDate;
  }, null, { timeout: 30000, polling: 100 });
  await page.evaluate(() => {
    const v = document.querySelector('video');
    window.__bench = { waiting: 0, stalledErrors: 0, errors: [], stallLog: [] };
    const t0 = performance.now();
    // Where a stall happened, to tell a join from a starved buffer mid-play.
    const note = (what) => {
      const b = v.buffered;
      const ahead = b.length ? b.end(b.length - 1) - v.currentTime : 0;
      const hls = window.__player.hls;
      window.__bench.stallLog.push(`${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        `ahead ${ahead.toFixed(3)} s, latency ${Number(hls.latency).toFixed(3)} s, ` +
        `target ${Number(hls.targetLatency).toFixed(3)} s, rate ${v.playbackRate}`);
    };
    v.addEventListener('waiting', () => { window.__bench.waiting++; note('waiting'); });
    const hls = window.__player.hls;
    hls.on('hlsError', (_e, d) => {
      if (d.details === 'bufferStalledError') { window.__bench.stalledErrors++; note('bufferStalledError'); }
      window.__bench.errors.push(`${d.type}/${d.details}${d.fatal ? ' FATAL' : ''}`);
    });
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const base0 = await page.evaluate(() => ({ ...window.__bench, stalls: window.__player.getStats().stalls,
    dropped: window.__player.getStats().droppedFrames, frames: window.__player.getStats().totalFrames }));
  const samples = [];
  const edge = [];
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    const s = await page.evaluate(() => {
      const hls = window.__player.hls;
      const d = hls.playingDate;
      return { lat: d ? Date.now() - d.getTime() : null, edge: hls.latency, t: document.querySelector('video').currentTime };
    });
    if (s.lat !== null) samples.push(s.lat);
    if (Number.isFinite(s.edge)) edge.push(s.edge * 1000);
    await new Promise((r) => setTimeout(r, 250));
  }
  const end = await page.evaluate(() => ({ ...window.__bench, stalls: window.__player.getStats().stalls,
    dropped: window.__player.getStats().droppedFrames, frames: window.__player.getStats().totalFrames,
    config: { lowLatencyMode: window.__player.hls.config.lowLatencyMode,
      liveSyncDurationCount: window.__player.hls.userConfig.liveSyncDurationCount ?? null,
      targetLatency: window.__player.hls.targetLatency } }));
  Object.assign(out, {
    ok: true,
    samples: samples.length,
    latency_ms: { p50: pct(samples, 50), p95: pct(samples, 95), min: pct(samples, 0), max: pct(samples, 100) },
    hls_latency_ms: { p50: pct(edge, 50) },
    waiting_events: end.waiting - base0.waiting,
    stalled_errors: end.stalledErrors - base0.stalledErrors,
    player_stalls: end.stalls - base0.stalls,
    dropped_frames: end.dropped - base0.dropped,
    decoded_frames: end.frames - base0.frames,
    // After the warm-up, as every count above; the join's own are reported apart.
    hls_errors: end.errors.slice(base0.errors.length).slice(0, 20),
    join_errors: base0.errors.slice(0, 20),
    stall_log: end.stallLog.slice(0, 20),
    page_errors: errors.slice(0, 10),
    config: end.config,
  });
} catch (err) {
  out.ok = false;
  out.error = String(err && err.message ? err.message : err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
