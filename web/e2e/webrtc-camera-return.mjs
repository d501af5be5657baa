#!/usr/bin/env node
// What a WebRTC viewer sees when its camera goes away for 8 s and comes back, second by
// second (not part of `npm run e2e`; run by hand after `npm run build`):
//
//   ES_BINARY=../build/edgestream ES_TESTCAM=../build/tests/es-testcam node e2e/webrtc-camera-return.mjs
//
// One es-testcam -> edgestream (classic profile, WHEP on a free UDP port) -> player.html
// (protocol auto: WebRTC) in Debian's Chromium.  Per second, from getStats() inbound-rtp
// deltas: video frames received / decoded / shown / dropped, freezes, video and audio
// packets, the video jitter buffer's mean delay / target delay (ms) over that second, the
// audio's, and the player's latency figure.  2026-12-03 with the tree of that morning:
// after the return, frames arrive at 15/s but Chrome decodes 9-12/s, its video jitter
// buffer delay grows ~0.4 s every second and the latency with it (0.37 s -> 3.6 s in 12 s),
// on the same session.  Fixed the same day (src/webrtc/timeline.c: RTP time steps by the
// real time the camera was away): 15 of 15 decoded, jitter buffer 0.15-0.17 s.
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { Daemon, TestCam, findBinaries, killAllStarted } from './lib/edgestream.mjs';
import { launchBrowser } from './lib/browser.mjs';
const here = path.dirname(new URL(import.meta.url).pathname);
process.chdir(path.join(here, '..'));
const bins = findBinaries(path.join(here, '../..'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'es-webrtc-return-'));
const cam = new TestCam({ binary: bins.testcam, label: 'cam', logDir: tmp });
let d, b;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  await cam.start();
  fs.mkdirSync(path.join(tmp, 'www'));
  fs.cpSync('dist', path.join(tmp, 'www'), { recursive: true });
  d = new Daemon({ binary: bins.edgestream, workDir: tmp, webRoot: path.join(tmp, 'www'), cameras: [{ id: 'c', name: 'C', profile: 'ultra-low', url: cam.url }] });
  const base = await d.start();
  await d.waitPlaylist('c');
  b = await launchBrowser();
  const page = await b.context.newPage();
  await page.goto(`${base}player.html?src=/live/c/stream.m3u8&debug=1`);
  await page.waitForFunction(() => window.__player?.protocol === 'webrtc' && window.__player.getStats()?.phase === 'live', null, { timeout: 20000 });
  let prev = null;
  const snap = async (label) => {
    const r = await page.evaluate(async () => {
      const pc = window.__player.peerConnection; const o = {};
      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') o[s.kind] = s; });
      const v = o.video || {}, a = o.audio || {};
      return { fd: v.framesDecoded, fdrop: v.framesDropped, fr: v.framesReceived, frz: v.freezeCount, jbd: v.jitterBufferDelay, jbe: v.jitterBufferEmittedCount, jbt: v.jitterBufferTargetDelay, vp: v.packetsReceived, ap: a.packetsReceived, ajbd: a.jitterBufferDelay, ajbe: a.jitterBufferEmittedCount, shown: document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames, lat: window.__player.getStats()?.latencyMs, phase: window.__player.getStats()?.phase };
    });
    if (prev) {
      const dd = (k) => (r[k] ?? 0) - (prev[k] ?? 0);
      const jb = dd('jbe') > 0 ? (1000 * dd('jbd') / dd('jbe')).toFixed(0) : '-';
      const jt = dd('jbe') > 0 ? (1000 * dd('jbt') / dd('jbe')).toFixed(0) : '-';
      const ajb = dd('ajbe') > 0 ? (1000 * dd('ajbd') / dd('ajbe')).toFixed(0) : '-';
      console.log(`${label} recv ${dd('fr')} dec ${dd('fd')} shown ${dd('shown')} drop ${dd('fdrop')} frz ${dd('frz')} vpk ${dd('vp')} apk ${dd('ap')} vjb ${jb}/${jt} ajb ${ajb} lat ${r.lat} ${r.phase}`);
    }
    prev = r;
  };
  for (let i = 0; i < 3; i++) { await snap(`pre${i}`); await sleep(1000); }
  await cam.kill('SIGKILL');
  for (let i = 0; i < 8; i++) { await snap(`dead${i}`); await sleep(1000); }
  await cam.start();
  for (let i = 0; i < 25; i++) { await snap(`back${i}`); await sleep(1000); }
} finally { if (b) await b.close(); if (d) await d.stop(); await cam.kill(); killAllStarted(); fs.rmSync(tmp, { recursive: true, force: true }); }
