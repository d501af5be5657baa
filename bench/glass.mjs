#!/usr/bin/env node
// Glass-to-glass of WebRTC against LL-HLS (issue 12), in one run: one es-testcam, one
// edgestream, Debian's Chromium (web/e2e/lib/browser.mjs), the camera's burned-in block code
// read from every decoded frame (web/e2e/lib/clock.mjs), not PROGRAM-DATE-TIME.
//
//   node bench/glass.mjs [--build build] [--joins 5] [--warmup 5] [--seconds 15]
//                        [--only rtc-ours,rtc-stock,...] [--json out.json] [--part-target s]
//
// es-testcam 1280x720 25 fps (GOP 50) -> edgestream: camera `c` transcoded to 854x480 15 fps,
// profile ll (LL-HLS, 1 s segments, parts) with WebRTC on; camera `p` the same camera passed
// through (`transcode: copy`). Variants, each JOINS fresh pages one after another; per join
// the first WARMUP seconds after the first decoded frame are dropped, then SECONDS of samples
// (one per presented frame) are kept:
//   rtc-ours     web/dist/player.html?src=…&protocol=webrtc (LivePlayer, our WHEP client)
//   rtc-stock    a page with a plain RTCPeerConnection (recvonly video + audio) and a fetch
//                POST, no edgestream code, jitterBufferTarget untouched
//   llhls-ours   web/dist/player.html?src=…&protocol=ll-hls: no profile parameter (LL comes
//                from the playlist); protocol=ll-hls only keeps the page off WebRTC, which
//                `auto` (the `make demo` link) would play
//   llhls-stock  node_modules/hls.js/dist/hls.min.js alone, with docs/web.md's recommended
//                settings (lowLatencyMode, maxLiveSyncPlaybackRate 1.5, backBufferLength 30)
//   llhls-stock+snippet  the same plus docs/web.md's few lines (target back, jump to live)
//   rtc-copy     rtc-ours on the passthrough camera (1280x720 25 fps)
// and, only when named in --only: llhls-stock-sync0.45 / -sync0.5, llhls-stock+snippet with
// hls.js's liveSyncDuration 0.45 / 0.5 s, below the playlist's PART-HOLD-BACK (0.6 s).
// Prints a Markdown table (p50/p95/min/max over all samples, per-join medians) and, with
// --json, every join's figures. Binaries: ES_BINARY / ES_TESTCAM, else <build>/edgestream and
// <build>/tests/es-testcam.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launchBrowser } from '../web/e2e/lib/browser.mjs';
import { clockSampler, summarize, percentile } from '../web/e2e/lib/clock.mjs';
import { Daemon, TestCam, findBinaries, killAllStarted } from '../web/e2e/lib/edgestream.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const webDir = path.join(root, 'web');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const build = path.resolve(root, arg('build', 'build'));
const JOINS = Number(arg('joins', '5'));
const WARMUP_S = Number(arg('warmup', '5'));
const SECONDS = Number(arg('seconds', '15'));
const jsonOut = arg('json', null);
// An LL-HLS part target for both cameras, in seconds (default: the `ll` profile's).
const PART_TARGET = arg('part-target', null);
const DEFAULT = ['rtc-ours', 'rtc-stock', 'llhls-ours', 'llhls-stock', 'llhls-stock+snippet', 'rtc-copy'];
// Not run by default: what a lower hls.js target than PART-HOLD-BACK (0.6 s) would give.
const ALL = [...DEFAULT, 'llhls-stock-sync0.45', 'llhls-stock-sync0.5'];
const only = arg('only', DEFAULT.join(',')).split(',').filter(Boolean);
for (const v of only) if (!ALL.includes(v)) throw new Error(`--only: unknown variant '${v}' (known: ${ALL.join(', ')})`);

process.env.ES_BINARY ??= path.join(build, 'edgestream');
process.env.ES_TESTCAM ??= path.join(build, 'tests', 'es-testcam');
const bins = findBinaries(root);

// The hls.js settings docs/web.md recommends for a shop's own player on the LL origin.
const STOCK_HLS_CONFIG = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, liveSyncOnStallIncrease: 1, backBufferLength: 30, enableWorker: true };

const STOCK_WHEP_PAGE = `<!doctype html><meta charset="utf-8"><title>stock WHEP</title>
<video muted autoplay playsinline style="width:854px"></video><script>
// A plain WHEP viewer, as docs/webrtc.md shows it: nothing from edgestream, no latency tuning.
const q = new URLSearchParams(location.search); const video = document.querySelector('video');
const pc = new RTCPeerConnection(); window.pc = pc;
pc.addTransceiver('video', { direction: 'recvonly' });
pc.addTransceiver('audio', { direction: 'recvonly' });
pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
let location_ = null;
window.__close = async () => { pc.close(); if (location_) await fetch(location_, { method: 'DELETE' }); };
(async () => {
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch('/whep/' + q.get('camera'), { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  location_ = r.headers.get('Location');
  window.__postStatus = r.status;
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
})();
</script>`;

const STOCK_HLS_PAGE = `<!doctype html><meta charset="utf-8"><title>stock hls.js</title>
<video muted autoplay playsinline style="width:854px"></video><script src="hls.min.js"></script><script>
const q = new URLSearchParams(location.search); const v = document.querySelector('video');
const hls = new Hls(Object.assign(${JSON.stringify(STOCK_HLS_CONFIG)}, JSON.parse(q.get('cfg') || '{}'))); window.hls = hls;
hls.loadSource(q.get('src')); hls.attachMedia(v);
let stalls = 0; hls.on(Hls.Events.ERROR, (_e, d) => { if (d.details === 'bufferStalledError') stalls++; }); window.__stalls = () => stalls;
if (q.has('snippet')) {
// docs/web.md, "What our player adds", verbatim:
let due = 0;
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
</script>`;

/** The daemon's config, with `transcode` for cameras that ask for it (Daemon writes profile only). */
class BenchDaemon extends Daemon {
  writeConfig() {
    super.writeConfig();
    let text = fs.readFileSync(this.configPath, 'utf8');
    for (const c of this.cameras) {
      if (!c.transcode) continue;
      // The camera's own entry (cameras may share a URL): its settings: line, by its id.
      const entry = `  - id: ${JSON.stringify(c.id)}\n`;
      const at = text.indexOf('    settings:\n', text.indexOf(entry)) + '    settings:\n'.length;
      text = `${text.slice(0, at)}      transcode: ${c.transcode}\n${text.slice(at)}`;
    }
    if (PART_TARGET) text = text.replaceAll('    settings:\n', `    settings:\n      part_target: ${Number(PART_TARGET)}\n`);
    fs.writeFileSync(this.configPath, text);
  }
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function urlFor(variant) {
  switch (variant) {
    case 'rtc-ours': return 'player.html?src=/live/c/stream.m3u8&protocol=webrtc&debug=1';
    case 'rtc-copy': return 'player.html?src=/live/p/stream.m3u8&protocol=webrtc&debug=1';
    case 'llhls-ours': return 'player.html?src=/live/c/stream.m3u8&protocol=ll-hls&debug=1';
    case 'rtc-stock': return 'stock-whep.html?camera=c';
    case 'llhls-stock': return 'stock-hls.html?src=/live/c/stream.m3u8';
    case 'llhls-stock+snippet': return 'stock-hls.html?src=/live/c/stream.m3u8&snippet=1';
    case 'llhls-stock-sync0.45': return `stock-hls.html?src=/live/c/stream.m3u8&snippet=1&cfg=${encodeURIComponent('{"liveSyncDuration":0.45}')}`;
    case 'llhls-stock-sync0.5': return `stock-hls.html?src=/live/c/stream.m3u8&snippet=1&cfg=${encodeURIComponent('{"liveSyncDuration":0.5}')}`;
  }
  throw new Error(variant);
}

/** One fresh page: waits for the first coded frame, drops WARMUP_S, keeps SECONDS of samples. */
async function join(browser, base, variant) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(clockSampler);
  const t0 = Date.now();
  await page.goto(base + urlFor(variant));
  const r = { variant, load_start: loadavg() };
  try {
    await page.waitForFunction(() => window.__glass && window.__glass.samples.length > 0, null, { timeout: 30000 });
  } catch {
    const state = await page.evaluate(() => {
      const v = document.querySelector('video');
      return { glass: window.__glass && window.__glass.take(), video: v && { paused: v.paused, readyState: v.readyState, currentTime: v.currentTime, width: v.videoWidth, error: v.error && v.error.message } };
    });
    r.error = `no frame with a readable code within 30 s (${JSON.stringify(state)}; page errors: ${errors.slice(0, 3).join(' | ')})`;
    await page.close();
    return r;
  }
  r.first_sample_ms = Date.now() - t0;
  // WebRTC: Chrome's own view of the sampled window (jitter buffer, decode, drops, freezes).
  const rtcStats = () => page.evaluate(async () => {
    const pc = window.pc ?? window.__player?.peerConnection;
    if (!pc) return null;
    let v = null;
    (await pc.getStats()).forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') v = x; });
    return v && { jb: v.jitterBufferDelay, jbTarget: v.jitterBufferTargetDelay, jbOut: v.jitterBufferEmittedCount, decode: v.totalDecodeTime, decoded: v.framesDecoded, dropped: v.framesDropped, freezes: v.freezeCount, lost: v.packetsLost };
  }).catch(() => null);
  await sleep(WARMUP_S * 1000);
  await page.evaluate(() => window.__glass.take());
  const s0 = await rtcStats();
  await sleep(SECONDS * 1000);
  const got = await page.evaluate(() => window.__glass.take());
  const s1 = await rtcStats();
  if (s0 && s1) {
    const n = s1.jbOut - s0.jbOut;
    r.webrtc = {
      jitter_buffer_ms: n > 0 ? Math.round(((s1.jb - s0.jb) / n) * 1000) : null,
      jitter_buffer_target_ms: n > 0 && s1.jbTarget !== undefined ? Math.round(((s1.jbTarget - s0.jbTarget) / n) * 1000) : null,
      decode_ms: s1.decoded > s0.decoded ? Math.round(((s1.decode - s0.decode) / (s1.decoded - s0.decoded)) * 1000 * 10) / 10 : null,
      frames_dropped: s1.dropped - s0.dropped, freezes: s1.freezes - s0.freezes, packets_lost: s1.lost - s0.lost,
    };
  }
  const kept = got.samples;
  const d = kept.map((s) => s.displayMs - s.captureMs);
  r.samples = d.length;
  r.mismatched = got.late; // callbacks too late to be sure which frame was drawn (clock.mjs)
  r.misses = got.misses;
  r.repeats = got.repeats;
  r.frames = got.frames;
  r.delays = d.map((x) => Math.round(x * 10) / 10);
  // Frames per second that reached the screen with a new capture time, and the steps between them.
  const caps = kept.map((s) => s.captureMs);
  r.fps = caps.length > 1 ? Math.round(((caps.length - 1) * 10000) / (caps[caps.length - 1] - caps[0])) / 10 : null;
  r.capture_steps_ms = caps.slice(1, 13).map((c, i) => c - caps[i]);
  // capture - media time (RTP timestamp / 90 for WebRTC, mediaTime for HLS), less its median:
  // how far the stream's own timestamps stray from the capture clock, frame to frame.
  const WRAP = 2 ** 32 / 90;
  const off = kept.map((x) => (((x.captureMs - x.mediaMs) % WRAP) + WRAP) % WRAP).sort((a, b) => a - b);
  if (off.length) {
    const mid = off[Math.floor(off.length / 2)];
    r.capture_minus_media_ms = { p5: Math.round(percentile(off, 0.05) - mid), p95: Math.round(percentile(off, 0.95) - mid), min: Math.round(off[0] - mid), max: Math.round(off[off.length - 1] - mid) };
  }
  r.summary = summarize(d);
  // What the player itself says (ours: its stats; stock hls.js: now - playingDate).
  r.player = await page.evaluate(() => {
    const s = window.__stats?.at(-1);
    if (s) return { protocol: s.protocol, latencyMs: s.latencyMs, stalls: s.stalls, targetLatency: window.__player?.hls?.targetLatency };
    if (window.hls?.playingDate) return { protocol: 'hls.js', latencyMs: Date.now() - window.hls.playingDate.getTime(), targetLatency: window.hls.targetLatency, stalls: window.__stalls() };
    return null;
  });
  r.load_end = loadavg();
  r.errors = errors.slice(0, 5);
  if (variant === 'rtc-stock') await page.evaluate(() => window.__close()).catch(() => {});
  await page.close();
  return r;
}

const fmt = (ms) => (ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(3));

function table(results) {
  const lines = [
    '| variant | joins | samples | p50 | p95 | min | max | per-join medians (s) | frames unread / late callbacks / presented | player\'s own figure p50 | WebRTC jitter buffer per join (ms) | load (start → end) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const v of only) {
    const js = results.filter((r) => r.variant === v && !r.error);
    const failed = results.filter((r) => r.variant === v && r.error).length;
    const all = js.flatMap((r) => r.delays);
    const s = summarize(all);
    const meds = js.map((r) => fmt(r.summary.p50)).join(', ');
    const own = js.map((r) => r.player?.latencyMs).filter((x) => typeof x === 'number').sort((a, b) => a - b);
    const unread = js.reduce((a, r) => a + r.misses, 0), frames = js.reduce((a, r) => a + r.frames, 0);
    const mism = js.reduce((a, r) => a + r.mismatched, 0);
    const loads = js.length ? `${js[0].load_start} → ${js[js.length - 1].load_end}` : '';
    lines.push(`| ${v} | ${js.length}${failed ? ` (+${failed} failed)` : ''} | ${s.count} | **${fmt(s.p50)}** | **${fmt(s.p95)}** | ${fmt(s.min)} | ${fmt(s.max)} | ${meds} | ${unread} / ${mism} / ${frames} | ${fmt(percentile(own, 0.5))} | ${js.some((r) => r.webrtc) ? js.map((r) => r.webrtc?.jitter_buffer_ms ?? '–').join(', ') : '–'} | ${loads} |`);
  }
  return lines.join('\n');
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'es-glass-'));
// Ctrl-C / kill: stop the camera and the daemon (by PID) too; Chromium goes with browser.mjs's
// exit handler.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAllStarted(); process.exit(130); });
let daemon = null, browser = null, cam = null;
const results = [];
const started = new Date();
const loadStart = loadavg();
try {
  const www = path.join(tmp, 'www');
  fs.cpSync(path.join(webDir, 'dist'), www, { recursive: true, filter: (s) => !s.endsWith('.map'), dereference: true });
  fs.copyFileSync(path.join(webDir, 'node_modules/hls.js/dist/hls.min.js'), path.join(www, 'hls.min.js'));
  fs.writeFileSync(path.join(www, 'stock-whep.html'), STOCK_WHEP_PAGE);
  // One page serves both stock hls.js variants: the snippet runs only with &snippet=1.
  fs.writeFileSync(path.join(www, 'stock-hls.html'), STOCK_HLS_PAGE);

  cam = new TestCam({ binary: bins.testcam, label: 'cam', logDir: tmp, width: 1280, height: 720, fps: 25 });
  await cam.start();
  daemon = new BenchDaemon({
    binary: bins.edgestream, workDir: tmp, webRoot: www,
    cameras: [
      { id: 'c', name: 'transcoded', url: cam.url, profile: 'll' },
      { id: 'p', name: 'passthrough', url: cam.url, profile: 'll', transcode: 'copy' },
    ],
  });
  const base = await daemon.start();
  await daemon.waitPlaylist('c', { parts: true });
  await daemon.waitPlaylist('p', { timeoutMs: 30000 });
  browser = await launchBrowser();
  const probe = await browser.context.newPage();
  await probe.goto(base + 'healthz');
  const userAgent = await probe.evaluate(() => navigator.userAgent);
  await probe.close();
  const chromiumVersion = execFileSync(process.env.CHROMIUM_PATH || '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const hlsVersion = JSON.parse(fs.readFileSync(path.join(webDir, 'node_modules/hls.js/package.json'), 'utf8')).version;
  for (const v of only) {
    for (let j = 0; j < JOINS; j++) {
      const r = await join(browser, base, v);
      r.join = j + 1;
      results.push(r);
      const s = r.summary;
      console.error(`${v} join ${j + 1}: ${r.error ?? `p50 ${fmt(s.p50)} p95 ${fmt(s.p95)} min ${fmt(s.min)} max ${fmt(s.max)} s, ${r.samples} samples, ${r.misses} unread, ${r.mismatched} late callbacks, ${r.fps} fps, player ${JSON.stringify(r.player)}, ${r.webrtc ? `rtc ${JSON.stringify(r.webrtc)}, ` : ''}load ${r.load_end}`}`);
      if (!daemon.alive()) throw new Error(`edgestream exited: ${daemon.log.tail(20)}`);
    }
  }
  const loadEnd = loadavg();
  console.log(`Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`bench/glass.mjs\` (${JOINS} joins per variant, ${WARMUP_S} s warm-up then ${SECONDS} s of samples per join). ` +
    `Machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Linux ${os.release()}; load average at start ${loadStart}, at end ${loadEnd}. ` +
    `${chromiumVersion} (headless), hls.js ${hlsVersion}.\n`);
  console.log(table(results));
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ started, loadStart, loadEnd, chromiumVersion, userAgent, hlsVersion, joins: JOINS, warmup: WARMUP_S, seconds: SECONDS, results }, null, 1));
} finally {
  if (browser) await browser.close();
  if (daemon) await daemon.stop();
  if (cam) await cam.kill('SIGTERM');
  killAllStarted();
  if (!process.env.GLASS_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  else console.error(`kept ${tmp}`);
}
