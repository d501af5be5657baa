#!/usr/bin/env node
// Browser tests of HLSPlayer and the dashboard in Debian's Chromium (playwright-core), against
// the REAL system: the edgestream daemon (build/edgestream) and its HTTP origin, fed by two
// es-testcam RTSP cameras (build/tests/es-testcam, 854x480 at 15 fps with a tone).
//
//   npm run e2e          (builds web/dist and the test pages first)
//   node e2e/run.mjs     (uses the existing builds)
//
// Needs: the C build (`cmake --build build -j2`; ES_BINARY / ES_TESTCAM name the binaries,
// else ../build/edgestream and ../build/tests/es-testcam; missing binaries FAIL the run),
// Debian's chromium, `npm ci` done.  Everything talks to 127.0.0.1 only.
//
// One daemon serves cam_door ("Front Door", profile ll: LL-HLS, fMP4 parts) and cam_floor
// ("Floor Camera", profile ultra-low: classic MPEG-TS, 1 s segments), each from its own test
// camera, and serves a temporary web_root: web/dist at /, the e2e pages (e2e/out/harness)
// at /harness/, and a second copy of web/dist at /supabase/ whose config.json points the
// dashboard at e2e/lib/postgrest-standin.mjs (the only stand-in left: Supabase's PostgREST).
// Cameras are killed and restarted by PID, on the same port (the daemon reconnects).
//
// Prints one line per test and ends with "N passed, M failed"; exits 1 on any failure.
// Screenshots go to e2e/screenshots/ (override with E2E_SCREENSHOTS=dir).  E2E_ONLY=<regex>
// runs a subset.  E2E_KEEP_TMP=1 keeps the work directory (logs, config) even on success.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Daemon, TestCam, findBinaries, killAllStarted, makeWebRoot } from './lib/edgestream.mjs';
import { startPostgrestStandin } from './lib/postgrest-standin.mjs';
import { launchBrowser, codecSupport } from './lib/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const sourceDir = path.resolve(webDir, '..');
const distDir = path.join(webDir, 'dist');
const harnessDir = path.join(here, 'out', 'harness');
const shotsDir = path.resolve(process.env.E2E_SCREENSHOTS || path.join(here, 'screenshots'));
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
let codecProblem = null;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function test(name, fn, { needsCodec = true } = {}) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  try {
    if (needsCodec && codecProblem) throw new Error(`cannot run: ${codecProblem}`);
    const note = await fn();
    const ms = Date.now() - t0;
    results.push({ name, ok: true, ms });
    console.log(`ok   ${name} (${(ms / 1000).toFixed(1)} s)${note ? ` — ${note}` : ''}`);
  } catch (err) {
    const ms = Date.now() - t0;
    results.push({ name, ok: false, ms, err });
    console.log(`FAIL ${name} (${(ms / 1000).toFixed(1)} s): ${err && err.message ? err.message : err}`);
  }
}

async function waitFor(page, fn, arg, timeoutMs, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 200 });
  } catch (err) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** Sample a <video> twice, `ms` apart: time, decoded frames, and whether the picture has content. */
async function videoProgress(page, selector, ms = 2000) {
  const sample = () =>
    page.evaluate((sel) => {
      const v = document.querySelector(sel);
      if (!v) return null;
      const q = v.getVideoPlaybackQuality();
      let variance = 0;
      if (v.videoWidth > 0) {
        const c = document.createElement('canvas');
        c.width = 64;
        c.height = 36;
        const g = c.getContext('2d', { willReadFrequently: true });
        g.drawImage(v, 0, 0, 64, 36);
        const d = g.getImageData(0, 0, 64, 36).data;
        let sum = 0;
        let sq = 0;
        const n = d.length / 4;
        for (let i = 0; i < d.length; i += 4) {
          const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
          sum += y;
          sq += y * y;
        }
        variance = sq / n - (sum / n) ** 2;
      }
      return {
        t: v.currentTime,
        frames: q.totalVideoFrames,
        dropped: q.droppedVideoFrames,
        w: v.videoWidth,
        h: v.videoHeight,
        paused: v.paused,
        variance,
      };
    }, selector);
  const a = await sample();
  await sleep(ms);
  const b = await sample();
  return { a, b, dt: b && a ? b.t - a.t : 0, dframes: b && a ? b.frames - a.frames : 0 };
}

function setupFailure(msg) {
  console.log(`FAIL setup: ${msg}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

async function main() {
  for (const [dir, how] of [
    [path.join(distDir, 'index.html'), 'npm run build'],
    [path.join(harnessDir, 'memtest.html'), 'npx vite build --config vite.e2e.config.ts'],
  ]) {
    if (!fs.existsSync(dir)) setupFailure(`${dir} missing; run \`${how}\` (or \`npm run e2e\`)`);
  }
  let bins;
  try {
    bins = findBinaries(sourceDir);
  } catch (err) {
    setupFailure(`${err.message}. These tests run against the real daemon and test camera; they cannot run without them.`);
  }
  fs.mkdirSync(shotsDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgestream-e2e-'));
  const webRoot = path.join(tmp, 'www');
  // The two cameras of the run: [0] LL-HLS, [1] classic. Each has its own es-testcam.
  const cams = [
    { id: 'cam_door', name: 'Front Door', profile: 'll', cam: new TestCam({ binary: bins.testcam, label: 'testcam-door', logDir: tmp }) },
    { id: 'cam_floor', name: 'Floor Camera', profile: 'ultra-low', cam: new TestCam({ binary: bins.testcam, label: 'testcam-floor', logDir: tmp }) },
  ];
  const [camLL, camClassic] = cams;
  let daemon = null;
  let browser = null;
  let browserLaunch = null;
  let standin = null;
  let cleaning = null;
  // Once, whoever asks first (the end of the run or a signal); everyone waits for the same.
  const cleanup = () =>
    (cleaning ??= (async () => {
      const br = browser ?? (await browserLaunch?.catch(() => null));
      if (br) await br.close();
      if (standin) await standin.close();
      if (daemon) await daemon.stop();
      await Promise.all(cams.map((c) => c.cam.kill()));
      killAllStarted();
    })());
  // Last resort on any way out: nothing started here outlives the run.
  process.on('exit', killAllStarted);
  const onSignal = (sig) => {
    void cleanup().finally(() => {
      fs.rmSync(webRoot, { recursive: true, force: true });
      console.log(`${sig}: stopped everything; logs in ${tmp}`);
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    makeWebRoot(webRoot, { distDir, harnessDir, copiesOfDist: ['supabase'] });
    await Promise.all(cams.map((c) => c.cam.start()));
    daemon = new Daemon({
      binary: bins.edgestream,
      workDir: tmp,
      webRoot,
      cameras: cams.map((c) => ({ id: c.id, name: c.name, profile: c.profile, url: c.cam.url })),
    });
    const base = await daemon.start();
    const origin = base.replace(/\/$/, '');
    browserLaunch = launchBrowser();
    [browser] = await Promise.all([browserLaunch, daemon.waitPlaylist(camLL.id, { parts: true }), daemon.waitPlaylist(camClassic.id)]);
    console.log(
      `edgestream ${path.relative(sourceDir, bins.edgestream) || bins.edgestream} at ${origin} (pid ${daemon.proc.pid}); ` +
        cams.map((c) => `${c.id} (${c.profile}) <- ${c.cam.url} (pid ${c.cam.pid})`).join(', ') +
        `; chromium pid ${browser.pid}`,
    );
    const ctx = browser.context;
    const consoleErrors = [];
    ctx.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    ctx.on('weberror', (e) => consoleErrors.push(`uncaught: ${e.error()?.message ?? e.error()}`));

    // ---------------------------------------------------------------- codecs
    await test(
      'chromium: MSE can take H.264 + AAC (avc1.42E01E,mp4a.40.2)',
      async () => {
        const page = await ctx.newPage();
        await page.goto(`${origin}/player.html`);
        const c = await codecSupport(page);
        await page.close();
        if (!c.h264aac) {
          codecProblem =
            `this Chromium (${c.userAgent}) reports MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"') = false ` +
            '(no proprietary codecs): H.264/AAC playback cannot be tested in it';
          throw new Error(codecProblem);
        }
        return `isTypeSupported true; native HLS canPlayType = "${c.nativeHls}"`;
      },
      { needsCodec: false },
    );

    // ---------------------------------------------------------------- player smoke
    await test('player.html (classic camera, ultra-low): plays, frames decode, stats latency = Date.now() - hls.playingDate', async () => {
      const page = await ctx.newPage();
      const workerRequests = [];
      page.on('request', (r) => {
        if (/hls\.worker/.test(r.url())) workerRequests.push(r.url());
      });
      // A link that names a profile plays HLS (as links made before WebRTC expect).
      await page.goto(`${origin}/player.html?src=/live/${camClassic.id}/stream.m3u8&profile=ultra-low&debug=1`);
      await waitFor(page, () => window.__player?.hls && window.__player.video.currentTime > 1.5, null, 25000, 'playback to start');
      const p = await videoProgress(page, 'video', 2000);
      assert(p.b, 'no video element');
      assert(p.dt > 1.2, `video.currentTime advanced only ${p.dt.toFixed(2)} s in 2 s`);
      assert(p.dframes >= 15, `only ${p.dframes} frames decoded in 2 s (15 fps source)`);
      assert(p.b.w === 854 && p.b.h === 480, `video is ${p.b.w}x${p.b.h}, expected 854x480`);
      assert(p.b.variance > 100, `the picture looks blank (luma variance ${p.b.variance.toFixed(1)})`);
      const m = await page.evaluate(() => {
        const h = window.__player;
        const s = h.getStats();
        const direct = Date.now() - h.hls.playingDate.getTime();
        const c = h.hls.config;
        return {
          s,
          direct,
          cfg: {
            lowLatencyMode: c.lowLatencyMode,
            liveSyncDurationCount: c.liveSyncDurationCount,
            liveMaxLatencyDurationCount: c.liveMaxLatencyDurationCount,
            maxBufferLength: c.maxBufferLength,
            backBufferLength: c.backBufferLength,
            enableWorker: c.enableWorker,
            workerPath: c.workerPath,
          },
          panel: document.querySelector('[data-stat="latency"]')?.textContent,
          history: (window.__stats || []).length,
        };
      });
      const { s, direct } = m;
      assert(s.engine === 'hls.js', `engine ${s.engine}`);
      assert(s.phase === 'live', `phase ${s.phase}`);
      assert(typeof s.latencyMs === 'number', 'no latency in stats (PROGRAM-DATE-TIME not seen?)');
      assert(Math.abs(s.latencyMs - direct) < 100, `stats latency ${s.latencyMs} ms vs Date.now()-hls.playingDate ${direct} ms`);
      assert(s.latencyMs > 200 && s.latencyMs < 15000, `implausible latency ${s.latencyMs} ms`);
      assert(s.bufferAheadS > 0, `buffer ahead ${s.bufferAheadS}`);
      assert(s.bitrateBps > 10000, `bitrate ${s.bitrateBps}`);
      assert(s.totalFrames > 0, 'no frame count');
      assert(m.history >= 2, `onStats called ${m.history} times`);
      assert(m.cfg.liveSyncDurationCount === 2 && m.cfg.liveMaxLatencyDurationCount === 4 && m.cfg.maxBufferLength === 10, `config ${JSON.stringify(m.cfg)}`);
      assert(m.cfg.enableWorker === true && workerRequests.length > 0, `hls.js worker not loaded (workerPath ${m.cfg.workerPath})`);
      await page.close();
      return `latency ${(s.latencyMs / 1000).toFixed(2)} s (direct ${(direct / 1000).toFixed(2)} s), buffer ${s.bufferAheadS.toFixed(2)} s, ${Math.round(s.bitrateBps / 1000)} kbit/s, dropped ${s.droppedFrames}/${s.totalFrames}`;
    });

    await test('player.html profile=ll (LL camera): parts and blocking reload in use, no sync counts, PART-HOLD-BACK sets the target', async () => {
      const page = await ctx.newPage();
      const partRequests = [];
      page.on('request', (r) => {
        if (/\/part_\d+_\d+\.m4s/.test(r.url()) || /_HLS_msn=\d+&_HLS_part=\d+/.test(r.url())) partRequests.push(r.url());
      });
      await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&profile=ll&debug=1`);
      await waitFor(page, () => window.__player?.hls && window.__player.video.currentTime > 1, null, 25000, 'playback to start');
      const p = await videoProgress(page, 'video', 2000);
      assert(p.dt > 1.2, `video.currentTime advanced only ${p.dt.toFixed(2)} s in 2 s`);
      assert(p.dframes >= 15, `only ${p.dframes} frames decoded in 2 s (15 fps source)`);
      assert(p.b.w === 854 && p.b.h === 480 && p.b.variance > 100, `picture ${p.b.w}x${p.b.h}, luma variance ${p.b.variance.toFixed(1)}`);
      const r = await page.evaluate(() => {
        const h = window.__player;
        const hls = h.hls;
        const d = hls.latestLevelDetails ?? hls.levels[hls.currentLevel]?.details;
        return {
          userSync: hls.userConfig.liveSyncDurationCount,
          userMax: hls.userConfig.liveMaxLatencyDurationCount,
          lowLatencyMode: hls.config.lowLatencyMode,
          target: hls.targetLatency,
          td: d?.targetduration,
          holdBack: d?.holdBack,
          partHoldBack: d?.partHoldBack,
          partTarget: d?.partTarget,
          canBlockReload: d?.canBlockReload,
          parts: d?.partList?.length ?? 0,
          latencyMs: h.getStats().latencyMs,
          direct: Date.now() - hls.playingDate.getTime(),
        };
      });
      await page.close();
      assert(r.userSync === undefined && r.userMax === undefined, `user config has sync counts: ${JSON.stringify(r)}`);
      assert(r.lowLatencyMode === true, 'lowLatencyMode off');
      assert(r.canBlockReload === true && r.partTarget > 0 && r.parts > 0, `the origin's LL playlist was not read as LL: ${JSON.stringify(r)}`);
      assert(partRequests.length > 0, 'hls.js requested no parts and made no blocking part reloads');
      assert(r.partHoldBack > 0, `no PART-HOLD-BACK in the origin's playlist: ${JSON.stringify(r)}`);
      // hls.js holds PART-HOLD-BACK behind live (plus up to one target duration per stall), not 2 segments.
      assert(r.target >= r.partHoldBack - 0.01 && r.target <= r.partHoldBack + r.td + 0.01, `targetLatency ${r.target}, expected ≈ PART-HOLD-BACK ${r.partHoldBack}`);
      assert(typeof r.latencyMs === 'number' && Math.abs(r.latencyMs - r.direct) < 1200, `stats latency ${r.latencyMs} ms vs Date.now()-hls.playingDate ${r.direct} ms`);
      assert(r.latencyMs > 0 && r.latencyMs < 4000, `LL latency ${r.latencyMs} ms`);
      return `targetLatency ${r.target} s (PART-HOLD-BACK ${r.partHoldBack}, PART-TARGET ${r.partTarget}), latency ${(r.latencyMs / 1000).toFixed(2)} s, ${partRequests.length} part/blocking requests`;
    });

    // ---------------------------------------------------------------- LL without a parameter, protocols
    // What `make demo` prints: player.html?src=… with no profile.  The page reads the playlist,
    // sees EXT-X-PART-INF / PART-HOLD-BACK and plays it with the `ll` row.  Latency is the
    // player's PDT measure (Date.now() - hls.playingDate; the test camera's PDT runs ~0.17 s
    // behind its burned-in clock, docs/origin.md), sampled every 200 ms for 3 s once it has
    // played 3 s, per join; the joins' medians are reported and their median is held to 1.0 s.
    const llJoins = Number(process.env.E2E_LL_JOINS || 5);
    await test(`player.html without &profile (LL camera, the link make demo prints, over HLS): LL detected from the playlist, ${llJoins} joins at LL latency`, async () => {
      const medians = [];
      const edges = [];
      const held = [];
      for (let j = 0; j < llJoins; j++) {
        const page = await ctx.newPage();
        try {
          // No profile: LL comes from the playlist.  protocol=ll-hls only keeps WebRTC out of
          // this test (what `auto` falls back to); the next test plays the same link as is.
          await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&protocol=ll-hls&debug=1`);
          await waitFor(page, () => window.__player?.hls && window.__player.video.currentTime > 0.5 && window.__player.hls.playingDate, null, 25000, 'playback to start');
          await sleep(3000);
          const samples = [];
          const edge = [];
          for (let i = 0; i < 15; i++) {
            const x = await page.evaluate(() => [Date.now() - window.__player.hls.playingDate.getTime(), window.__player.hls.latency]);
            samples.push(x[0]);
            edge.push(x[1]);
            await sleep(200);
          }
          edge.sort((a, b) => a - b);
          edges.push(edge[Math.floor(edge.length / 2)]);
          const r = await page.evaluate(() => {
            const h = window.__player;
            const hls = h.hls;
            const d = hls.latestLevelDetails;
            return {
              protocol: h.protocol,
              statsProtocol: h.getStats()?.protocol,
              userSync: hls.userConfig.liveSyncDurationCount,
              lowLatencyMode: hls.config.lowLatencyMode,
              rate: hls.config.maxLiveSyncPlaybackRate,
              target: hls.targetLatency,
              partHoldBack: d?.partHoldBack,
              partTarget: d?.partTarget,
              panel: document.querySelector('[data-stat="protocol"]')?.textContent,
            };
          });
          assert(r.userSync === undefined && r.lowLatencyMode === true && r.rate === 1, `not the ll profile: ${JSON.stringify(r)}`);
          assert(r.statsProtocol === 'll-hls' && r.panel === 'LL-HLS', `protocol ${JSON.stringify(r)}`);
          // The player's target: PART-HOLD-BACK plus one part (baseTargetLatency).
          const base = r.partHoldBack + (r.partTarget ?? 0);
          if (r.target > base + 0.01) {
            // A stall raised hls.js's target (by 1 s); the player must put it back once
            // playback has run 2 s without another stall.
            await waitFor(page, (b) => Math.abs(window.__player.hls.targetLatency - b) < 0.01, base, 8000, `the target back at PART-HOLD-BACK + a part after a stall (${r.target} s)`);
            held.push(r.target);
          }
          samples.sort((a, b) => a - b);
          medians.push(samples[Math.floor(samples.length / 2)]);
        } finally {
          await page.close();
        }
      }
      const sorted = [...medians].sort((a, b) => a - b);
      const p50 = sorted[Math.floor(sorted.length / 2)];
      // (hls.latency, the distance from the playlist's live edge, tells a player that plays
      // late from an origin whose PDT is late, e.g. a camera pipeline behind on a loaded box.)
      assert(p50 < 1000, `median latency ${p50} ms over ${medians.length} joins (${medians.join(', ')} ms; from the live edge ${edges.map((e) => e.toFixed(2)).join(', ')} s)`);
      return `per-join median latency ${medians.map((m) => (m / 1000).toFixed(2)).join(', ')} s; p50 ${(p50 / 1000).toFixed(2)} s; from the live edge ${edges.map((e) => e.toFixed(2)).join(', ')} s${held.length ? `; target raised by a stall in ${held.length} join(s) and put back to PART-HOLD-BACK + a part` : ''}`;
    });

    // The same link with nothing forced (protocol auto): WebRTC when the origin's WHEP answers.
    const rtcJoins = Number(process.env.E2E_RTC_JOINS || 5);
    await test(`player.html as make demo prints it (protocol auto) plays the LL camera over WebRTC (WHEP): frames, audio, low jitter buffer, ${rtcJoins} joins`, async () => {
      const medians = [];
      let detail = '';
      let freeze = '';
      for (let j = 0; j < rtcJoins; j++) {
        const page = await ctx.newPage();
        const whep = [];
        page.on('response', (r) => {
          if (/\/whep\//.test(r.url())) whep.push(`${r.request().method()} ${r.status()}`);
        });
        const t0 = Date.now();
        try {
          await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&debug=1`);
          await waitFor(page, () => window.__player?.protocol === 'webrtc' && window.__player.getStats()?.phase === 'live', null, 10000, `WebRTC live (WHEP: ${whep.join(', ') || 'no request'})`);
          const tLive = Date.now() - t0;
          const p = await videoProgress(page, 'video', 2000);
          assert(p.b && p.dt > 1.2, `video.currentTime advanced ${p.dt.toFixed(2)} s in 2 s`);
          assert(p.dframes >= 15, `only ${p.dframes} frames decoded in 2 s (15 fps source)`);
          assert(p.b.w === 854 && p.b.h === 480 && p.b.variance > 100, `picture ${p.b.w}x${p.b.h}, luma variance ${p.b.variance.toFixed(1)}`);
          // Chrome has estimatedPlayoutTimestamp once two sender reports of each track arrived
          // (the server sends audio SRs every 5 s): up to ~6 s after the join.
          await waitFor(page, () => typeof window.__player.getStats()?.latencyMs === 'number', null, 12000, 'a WebRTC latency figure');
          const tLatency = Date.now() - t0;
          const samples = [];
          for (let i = 0; i < 15; i++) {
            samples.push(await page.evaluate(() => window.__player.getStats()?.latencyMs ?? null));
            await sleep(200);
          }
          const r = await page.evaluate(async () => {
            const h = window.__player;
            const pc = h.peerConnection;
            const rep = await pc.getStats();
            const inb = { video: null, audio: null };
            rep.forEach((s) => {
              if (s.type === 'inbound-rtp') inb[s.kind] = { packets: s.packetsReceived, frames: s.framesDecoded, ept: s.estimatedPlayoutTimestamp, jb: s.jitterBufferEmittedCount ? (1000 * s.jitterBufferDelay) / s.jitterBufferEmittedCount : null };
            });
            return {
              hls: !!h.hls,
              jbt: pc.getReceivers().map((x) => x.jitterBufferTarget),
              inb,
              panel: document.querySelector('[data-stat="protocol"]')?.textContent,
              state: pc.connectionState,
              source: h.latencySource,
            };
          });
          assert(!r.hls, 'hls.js is running next to WebRTC');
          assert(r.state === 'connected', `connectionState ${r.state}`);
          assert(r.panel === 'WebRTC', `the stats panel says ${r.panel}`);
          assert(r.jbt.every((x) => x === 0), `jitterBufferTarget ${JSON.stringify(r.jbt)}`);
          assert(r.inb.audio && r.inb.audio.packets > 0, `no audio packets: ${JSON.stringify(r.inb)}`);
          const got = samples.filter((x) => typeof x === 'number').sort((a, b) => a - b);
          assert(got.length >= 10, `latency reported in ${got.length} of 15 samples (estimatedPlayoutTimestamp ${r.inb.video?.ept})`);
          medians.push(got[Math.floor(got.length / 2)]);
          if (j === 0) {
            // No freeze over 30 s: the longest gap between presented frames
            // (requestVideoFrameCallback, one call per frame shown) stays under 1 s.
            const f = await page.evaluate(
              () =>
                new Promise((resolve) => {
                  const v = document.querySelector('video');
                  let last = performance.now();
                  let maxGap = 0;
                  let frames = 0;
                  const end = last + 30000;
                  const onFrame = (now) => {
                    maxGap = Math.max(maxGap, now - last);
                    last = now;
                    frames++;
                    if (now < end) v.requestVideoFrameCallback(onFrame);
                    else resolve({ maxGap, frames });
                  };
                  v.requestVideoFrameCallback(onFrame);
                }),
            );
            assert(f.maxGap < 1000 && f.frames >= 30 * 12, `over 30 s: ${f.frames} frames shown, longest gap ${f.maxGap.toFixed(0)} ms`);
            freeze = `30 s watch: ${f.frames} frames shown, longest gap ${f.maxGap.toFixed(0)} ms`;
          }
          if (j === 0) detail = `live ${tLive} ms after load, first latency figure at ${tLatency} ms (${r.source}); WHEP ${whep.join(', ')}; video jitter buffer ${r.inb.video?.jb?.toFixed(0)} ms; audio packets ${r.inb.audio.packets}`;
        } finally {
          await page.close();
        }
      }
      const sorted = [...medians].sort((a, b) => a - b);
      const p50 = sorted[Math.floor(sorted.length / 2)];
      assert(p50 < 500, `WebRTC median latency ${p50} ms (${medians.join(', ')})`);
      return `per-join median latency (estimatedPlayoutTimestamp) ${medians.map((m) => (m / 1000).toFixed(3)).join(', ')} s; p50 ${(p50 / 1000).toFixed(3)} s; ${detail}; ${freeze}`;
    });

    await test('protocol auto: when POST /whep fails the player falls back to LL-HLS within 4 s and plays', async () => {
      const page = await ctx.newPage();
      // Whatever the origin does, this page's WHEP POST fails: 503 with Retry-After.
      await page.route('**/whep/**', (route) => route.fulfill({ status: 503, headers: { 'Retry-After': '30' }, body: 'busy' }));
      let postAt = 0;
      page.on('request', (r) => {
        if (/\/whep\//.test(r.url()) && r.method() === 'POST' && !postAt) postAt = Date.now();
      });
      const t0 = Date.now();
      try {
        await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&protocol=auto&debug=1`);
        await waitFor(page, () => window.__player?.getStats()?.protocol === 'll-hls' && window.__player.getStats().phase === 'live', null, 15000, 'LL-HLS playing');
        const tLive = Date.now() - t0;
        const p = await videoProgress(page, 'video', 2000);
        assert(p.dt > 1.2 && p.dframes >= 15 && p.b.variance > 100, `not playing: +${p.dt.toFixed(2)} s, +${p.dframes} frames`);
        assert(postAt > 0, 'no WHEP POST was made');
        const fellBack = await page.evaluate(() => window.__player.protocol);
        assert(fellBack === 'll-hls', `ladder rung ${fellBack}`);
        assert(tLive - (postAt - t0) < 4000 + 3000, `live ${tLive} ms after load (POST at ${postAt - t0} ms)`);
        return `WHEP POST at ${postAt - t0} ms (503), LL-HLS live at ${tLive} ms`;
      } finally {
        await page.close();
      }
    });

    await test('protocol auto: after falling back to LL-HLS it moves back up to WebRTC when WHEP answers again (probe after 5 s)', async () => {
      const page = await ctx.newPage();
      // The first POST fails (503, as a full server answers); later ones reach the origin.
      let posts = 0;
      await page.route('**/whep/**', (route) => {
        if (route.request().method() === 'POST' && posts++ === 0) return route.fulfill({ status: 503, body: 'busy' });
        return route.continue();
      });
      const t0 = Date.now();
      try {
        await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&debug=1`);
        await waitFor(page, () => window.__player?.getStats()?.protocol === 'll-hls' && window.__player.getStats().phase === 'live', null, 15000, 'LL-HLS playing first');
        const tHls = Date.now() - t0;
        await waitFor(page, () => window.__player?.protocol === 'webrtc' && window.__player.getStats()?.phase === 'live', null, 15000, 'the move up to WebRTC');
        const tUp = Date.now() - t0;
        const p = await videoProgress(page, 'video', 2000);
        assert(p.dt > 1.2 && p.dframes >= 15 && p.b.variance > 100, `WebRTC not playing after the move: +${p.dt.toFixed(2)} s, +${p.dframes} frames`);
        const hlsGone = await page.evaluate(() => !window.__player.hls && document.querySelectorAll('video').length === 1);
        assert(hlsGone, 'hls.js (or its <video>) is still there after the move to WebRTC');
        assert(posts === 2, `${posts} WHEP POSTs`);
        return `LL-HLS live at ${tHls} ms, WebRTC live at ${tUp} ms (2 POSTs: 503, then the origin's)`;
      } finally {
        await page.close();
      }
    });

    await test('protocol auto: when ICE cannot connect (an answer whose only candidate is dead) the player falls back to LL-HLS within 4 s', async () => {
      const page = await ctx.newPage();
      // Answer the offer with a well-formed ICE-lite answer whose only candidate is a closed
      // port: Chromium's ICE checks go nowhere, so the attempt must time out (4 s) and fall back.
      await page.route('**/whep/**', async (route) => {
        const req = route.request();
        if (req.method() !== 'POST') return route.fulfill({ status: 405 });
        const offer = req.postData() || '';
        const fp = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) & 255).toString(16).padStart(2, '0').toUpperCase()).join(':');
        const out = [];
        for (const line of offer.split(/\r\n/)) {
          if (!line) continue;
          if (/^a=(candidate|end-of-candidates|ice-ufrag|ice-pwd|ice-options|fingerprint|setup|recvonly|sendrecv|extmap-allow-mixed|msid-semantic)/.test(line)) continue;
          if (/^a=ssrc/.test(line)) continue;
          out.push(line);
          if (/^t=/.test(line)) out.push('a=ice-lite');
          if (/^m=/.test(line)) {
            out.push('c=IN IP4 127.0.0.1');
            out.push('a=ice-ufrag:dead', 'a=ice-pwd:deaddeaddeaddeaddeaddead', `a=fingerprint:sha-256 ${fp}`, 'a=setup:passive', 'a=sendonly');
            out.push('a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host', 'a=end-of-candidates');
          }
        }
        const answer = out.filter((l) => !/^c=IN IP4 0\.0\.0\.0/.test(l)).join('\r\n') + '\r\n';
        await route.fulfill({ status: 201, headers: { 'Content-Type': 'application/sdp', Location: '/whep/session/dead' }, body: answer });
      });
      let postAt = 0;
      page.on('request', (r) => {
        if (/\/whep\//.test(r.url()) && r.method() === 'POST' && !postAt) postAt = Date.now();
      });
      const logs = [];
      page.on('console', (m) => logs.push(m.text()));
      try {
        await page.evaluate(() => localStorage.setItem('edgestream.debug', '1')).catch(() => {});
        await page.goto(`${origin}/player.html?src=/live/${camLL.id}/stream.m3u8&protocol=auto&debug=1`);
        await page.evaluate(() => localStorage.setItem('edgestream.debug', '1'));
        await waitFor(page, () => window.__player?.protocol === 'll-hls', null, 10000, 'the fallback to LL-HLS');
        const tFallback = Date.now() - postAt;
        await waitFor(page, () => window.__player?.getStats()?.phase === 'live', null, 15000, 'LL-HLS playing');
        const p = await videoProgress(page, 'video', 2000);
        assert(p.dt > 1.2 && p.dframes >= 15, `not playing: +${p.dt.toFixed(2)} s, +${p.dframes} frames`);
        assert(postAt > 0, 'no WHEP POST was made');
        assert(tFallback < 4500, `fell back ${tFallback} ms after the POST`);
        const why = logs.find((l) => /WebRTC failed/.test(l)) || '';
        return `fell back ${tFallback} ms after the POST${why ? ` (${why.replace(/^\[live\] /, '')})` : ''}`;
      } finally {
        await page.close();
      }
    });

    // ---------------------------------------------------------------- memory
    await test("mount/unmount HLSPlayer 50 times (test page from the origin's web_root): heap does not grow, nothing survives", async () => {
      const page = await ctx.newPage();
      await page.goto(`${origin}/harness/memtest.html?src=/live/${camClassic.id}/stream.m3u8`);
      await waitFor(page, () => window.__memtest?.ready, null, 10000, 'the test page');
      const cdp = await page.context().newCDPSession(page);
      const heap = async () => {
        for (let i = 0; i < 3; i++) {
          await cdp.send('HeapProfiler.collectGarbage');
          await sleep(100);
        }
        return (await cdp.send('Runtime.getHeapUsage')).usedSize;
      };
      await page.evaluate(() => window.__memtest.cycle(5));
      await sleep(500);
      const before = await heap();
      const t0 = Date.now();
      const r = await page.evaluate(() => window.__memtest.cycle(50));
      const cycleMs = Date.now() - t0;
      await sleep(1500); // let destroyed workers, timers and fetches wind down
      const after = await heap();
      const alive = await page.evaluate(() => window.__memtest.alive());
      const workers = page.workers().length;
      await cdp.detach();
      await page.close();
      const growth = after - before;
      const MB = 1024 * 1024;
      assert(r.buffered >= 45, `only ${r.buffered - 5}/50 mounts buffered media (the test must load real video)`);
      assert(alive.videosInDom === 0, `${alive.videosInDom} <video> left in the DOM`);
      assert(alive.hls === 0, `${alive.hls} of ${alive.tracked} hls.js instances still reachable after GC`);
      assert(alive.videos === 0, `${alive.videos} detached <video> elements still reachable after GC`);
      assert(workers === 0, `${workers} web workers still running`);
      assert(growth < 8 * MB, `heap grew ${(growth / MB).toFixed(1)} MB over 50 mounts`);
      return `heap ${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(0)} KiB), 50 mounts in ${(cycleMs / 1000).toFixed(1)} s, 0 instances/videos/workers left`;
    });

    // ---------------------------------------------------------------- dashboard
    const page = await ctx.newPage();
    const tileState = (id) => page.getAttribute(`li[data-camera="${id}"]`, 'data-state');
    const playersLive = async (ids, ms = 2000) => {
      const out = {};
      for (const id of ids) out[id] = await videoProgress(page, `li[data-camera="${id}"] video`, ms);
      return out;
    };

    await test("dashboard lists the cameras from the origin's /api/cameras and every tile plays", async () => {
      const listed = page.waitForResponse((r) => r.url() === `${origin}/api/cameras`, { timeout: 10000 });
      await page.goto(`${origin}/?debug=1`);
      const api = await (await listed).json();
      assert(api.cameras.map((c) => `${c.id}:${c.profile}`).join(',') === cams.map((c) => `${c.id}:${c.profile}`).join(','), `/api/cameras lists ${JSON.stringify(api.cameras.map((c) => c.id))}`);
      await waitFor(page, () => document.querySelectorAll('li[data-camera]').length === 2, null, 10000, 'two tiles');
      const names = await page.$$eval('.tile-name', (els) => els.map((e) => e.textContent));
      assert(names.join(',') === 'Front Door,Floor Camera', `tiles: ${names}`);
      await waitFor(
        page,
        () => [...document.querySelectorAll('li[data-camera]')].every((t) => t.dataset.state === 'live' && t.dataset.latencyMs),
        null,
        25000,
        'both tiles live with a latency',
      );
      const prog = await playersLive(cams.map((c) => c.id));
      for (const [id, p] of Object.entries(prog)) {
        assert(p.dt > 1.2, `${id}: currentTime advanced ${p.dt.toFixed(2)} s in 2 s`);
        assert(p.dframes >= 15, `${id}: ${p.dframes} frames decoded in 2 s`);
        assert(p.b.variance > 100, `${id}: blank picture`);
      }
      // The overlay's latency is the player's stats, at most one stats period old.
      // HLS: Date.now() - hls.playingDate; WebRTC: the player's estimatedPlayoutTimestamp figure.
      const lat = await page.evaluate(() => {
        const out = {};
        for (const [id, h] of window.__edgestream.players) {
          const el = document.querySelector(`li[data-camera="${id}"]`);
          out[id] = {
            protocol: el.dataset.protocol,
            rung: h.protocol,
            overlay: Number(el.dataset.latencyMs),
            direct: h.hls ? Date.now() - h.hls.playingDate.getTime() : h.getStats()?.latencyMs,
            text: el.querySelector('.tile-stats')?.textContent,
          };
        }
        return out;
      });
      for (const [id, l] of Object.entries(lat)) {
        assert(Math.abs(l.overlay - l.direct) < 1200, `${id}: overlay latency ${l.overlay} ms vs the player's ${l.direct} ms (${l.protocol})`);
        assert(/\d+\.\d+ s/.test(l.text || ''), `${id}: overlay text "${l.text}"`);
        // Which protocol plays is shown: WebRTC with the origin's WHEP (auto), else LL-HLS / HLS.
        const label = { webrtc: 'WebRTC', 'll-hls': 'LL-HLS', hls: 'HLS' }[l.protocol];
        assert(label && (l.text || '').startsWith(label), `${id}: protocol ${l.protocol}, overlay "${l.text}"`);
        assert(l.protocol === 'webrtc' || (id === camLL.id ? l.protocol === 'll-hls' : l.protocol === 'hls'), `${id} plays ${l.protocol}`);
      }
      await page.screenshot({ path: path.join(shotsDir, 'dashboard-live.png') });
      return Object.entries(lat)
        .map(([id, l]) => `${id} ${l.protocol} overlay ${(l.overlay / 1000).toFixed(2)} s / player ${(l.direct / 1000).toFixed(2)} s`)
        .join('; ');
    });

    await test('dashboard keyboard: Tab to a tile, Enter enlarges, Escape closes and returns focus', async () => {
      await page.evaluate(() => document.activeElement?.blur());
      await page.keyboard.press('Tab');
      let focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      assert(/^Enlarge Front Door/.test(focused || ''), `first Tab focused "${focused}"`);
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      assert(/^Enlarge Floor Camera/.test(focused || ''), `second Tab focused "${focused}"`);
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');
      await waitFor(page, () => document.querySelector('[role="dialog"][aria-modal="true"]'), null, 3000, 'the enlarged dialog');
      const d = await page.evaluate(() => {
        const dlg = document.querySelector('[role="dialog"]');
        const r = dlg.getBoundingClientRect();
        return { label: document.activeElement?.getAttribute('aria-label'), w: r.width, vw: innerWidth, name: dlg.textContent };
      });
      assert(d.label === 'Close Front Door', `focus in dialog: "${d.label}"`);
      assert(d.w > d.vw * 0.8, `enlarged width ${d.w} of ${d.vw}`);
      // Tab stays inside the dialog (the rest of the page is inert).
      await page.keyboard.press('Tab');
      const inside = await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]') || document.activeElement === document.body);
      assert(inside, 'Tab left the dialog');
      await page.screenshot({ path: path.join(shotsDir, 'dashboard-enlarged.png') });
      await page.keyboard.press('Escape');
      await waitFor(page, () => !document.querySelector('[role="dialog"]'), null, 3000, 'the dialog to close');
      focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      assert(/^Enlarge Front Door/.test(focused || ''), `focus after Escape: "${focused}"`);
      // And the mouse: click enlarges, clicking the close button closes.
      await page.click('li[data-camera="cam_floor"] .tile-open');
      await waitFor(page, () => document.querySelector('[role="dialog"]'), null, 3000, 'dialog after click');
      await page.click('.tile-close');
      await waitFor(page, () => !document.querySelector('[role="dialog"]'), null, 3000, 'dialog to close after click');
    });

    await test('dashboard at phone width (375 px): one column, no horizontal scroll', async () => {
      await page.setViewportSize({ width: 375, height: 740 });
      await sleep(300);
      const g = await page.evaluate(() => {
        const tiles = [...document.querySelectorAll('li[data-camera]')].map((t) => t.getBoundingClientRect());
        return { sw: document.documentElement.scrollWidth, tiles: tiles.map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height })) };
      });
      assert(g.sw <= 375, `page is ${g.sw} px wide`);
      assert(g.tiles[1].y >= g.tiles[0].y + g.tiles[0].h - 1, 'tiles are not stacked');
      assert(g.tiles.every((t) => t.w > 320), `tiles too narrow: ${g.tiles.map((t) => t.w)}`);
      await page.screenshot({ path: path.join(shotsDir, 'dashboard-phone.png') });
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    /** The origin's own view of the cameras (GET /api/cameras, from Node). */
    const apiStatus = async () => {
      const r = await fetch(`${origin}/api/cameras`, { signal: AbortSignal.timeout(5000) });
      const j = await r.json();
      return Object.fromEntries(j.cameras.map((c) => [c.id, c.status]));
    };

    // Kill one camera's es-testcam (SIGKILL, by PID: the camera just dies), then start a new
    // one on the same port; the daemon's reconnect loop finds it.  First the classic camera
    // (the offline screenshot), then the LL one.
    const lossCases = [
      { victim: camClassic, other: camLL, shot: 'dashboard-offline.png' },
      { victim: camLL, other: camClassic, shot: null },
    ];
    for (const { victim, other, shot } of lossCases) {
      const seen = { before: null }; // the victim's protocol before the kill
      // A fresh dashboard for each case, over HLS (?protocol=ll-hls): these cases are about the
      // player's offline and return handling, which HLS has always had.  WebRTC's own loss and
      // return is the next test.
      await page.goto(`${origin}/?debug=1&protocol=ll-hls`);
      await waitFor(
        page,
        () => [...document.querySelectorAll('li[data-camera]')].length === 2 && [...document.querySelectorAll('li[data-camera]')].every((t) => t.dataset.state === 'live'),
        null,
        25000,
        'both tiles live on a fresh dashboard',
      );
      await test(`killing ${victim.id}'s camera (${victim.profile}) turns its tile offline within seconds; ${other.id} keeps playing`, async () => {
        const before = await page.evaluate((id) => {
          window.__noReload = true;
          const h = window.__edgestream.players.get(id);
          window.__pcBefore = h?.peerConnection ?? null;
          return document.querySelector(`li[data-camera="${id}"]`)?.dataset.protocol;
        }, victim.id);
        seen.before = before;
        const pid = victim.cam.pid;
        await victim.cam.kill('SIGKILL');
        const t0 = Date.now();
        await waitFor(page, (id) => document.querySelector(`li[data-camera="${id}"]`)?.dataset.state === 'offline', victim.id, 15000, `${victim.id} offline`);
        const tOffline = Date.now() - t0;
        assert(tOffline < 10000, `took ${tOffline} ms`);
        assert((await tileState(other.id)) === 'live', `${other.id} is ${await tileState(other.id)}`);
        let p = (await playersLive([other.id]))[other.id];
        let retried = '';
        if (!(p.dt > 1.2 && p.dframes >= 15)) {
          // One more 2 s sample: WebRTC has no buffer to hide a moment of CPU starvation on a
          // loaded box; a tile really disturbed by the other camera's loss fails both.
          retried = ` (first sample +${p.dt.toFixed(2)} s, +${p.dframes} frames)`;
          p = (await playersLive([other.id]))[other.id];
        }
        assert(p.dt > 1.2 && p.dframes >= 15, `${other.id} disturbed: +${p.dt.toFixed(2)} s, +${p.dframes} frames${retried}`);
        const api = await apiStatus();
        assert(api[victim.id] !== 'live' && api[other.id] === 'live', `origin's /api/cameras says ${JSON.stringify(api)}`);
        if (shot) await page.screenshot({ path: path.join(shotsDir, shot) });
        return `${before}: es-testcam pid ${pid} killed; tile offline after ${(tOffline / 1000).toFixed(1)} s; /api/cameras: ${victim.id} ${api[victim.id]}${retried ? `; ${other.id} sampled twice${retried}` : ''}`;
      });

      await test(`restarting ${victim.id}'s camera on the same port brings its picture back without a page reload`, async () => {
        const port = victim.cam.port;
        await victim.cam.start();
        assert(victim.cam.port === port, `the camera came back on port ${victim.cam.port}, not ${port}`);
        const t0 = Date.now();
        await waitFor(page, (id) => document.querySelector(`li[data-camera="${id}"]`)?.dataset.state === 'live', victim.id, 40000, `${victim.id} live again`);
        const tLive = Date.now() - t0;
        const p = await playersLive([victim.id, other.id]);
        assert(p[victim.id].dt > 1.2 && p[victim.id].dframes >= 15, `${victim.id} not playing: +${p[victim.id].dt.toFixed(2)} s, +${p[victim.id].dframes} frames`);
        assert(p[victim.id].b.variance > 100, `${victim.id}: blank picture`);
        assert(p[other.id].dt > 1.2, `${other.id} stopped`);
        assert(await page.evaluate(() => window.__noReload === true), 'the page was reloaded');
        const after = await page.evaluate((id) => {
          const h = window.__edgestream.players.get(id);
          return {
            protocol: document.querySelector(`li[data-camera="${id}"]`)?.dataset.protocol,
            samePc: !!window.__pcBefore && h?.peerConnection === window.__pcBefore,
          };
        }, victim.id);
        // WebRTC: the player keeps the session through the camera's absence (the server keeps
        // it too), so the same RTCPeerConnection shows the picture again.
        if (seen.before === 'webrtc') assert(after.protocol === 'webrtc' && after.samePc, `before ${seen.before}, after ${JSON.stringify(after)}`);
        return `live again (${after.protocol}${after.protocol === 'webrtc' ? (after.samePc ? ', same WebRTC session' : ', new WebRTC session') : ''}) ${(tLive / 1000).toFixed(1)} s after es-testcam (pid ${victim.cam.pid}) was ready on port ${port}`;
      });
    }

    await page.close();

    // WebRTC through a camera's loss and return: the session stays open on both sides and the
    // same RTCPeerConnection shows the picture again, with no page reload.  The frame rate and
    // jitter buffer afterwards are asserted by tests/integration/test_webrtc_camera_loss.py
    // (web/e2e/webrtc-camera-return.mjs prints them per second).
    await test('WebRTC: a camera lost for ~8 s and back: the same session shows the picture again without a reload', async () => {
      const p = await ctx.newPage();
      try {
        await p.goto(`${origin}/player.html?src=/live/${camClassic.id}/stream.m3u8&debug=1`);
        await waitFor(p, () => window.__player?.protocol === 'webrtc' && window.__player.getStats()?.phase === 'live', null, 15000, 'WebRTC live');
        await p.evaluate(() => {
          window.__pc0 = window.__player.peerConnection;
          window.__noReload = true;
        });
        const port = camClassic.cam.port;
        await camClassic.cam.kill('SIGKILL');
        const t0 = Date.now();
        await waitFor(p, () => window.__player.getStats()?.phase === 'offline', null, 15000, 'the player to say offline');
        const tOffline = Date.now() - t0;
        await sleep(Math.max(0, 8000 - (Date.now() - t0)));
        await camClassic.cam.start();
        assert(camClassic.cam.port === port, `the camera came back on port ${camClassic.cam.port}`);
        const t1 = Date.now();
        await waitFor(p, () => window.__player.getStats()?.phase === 'live', null, 20000, 'live again');
        const tBack = Date.now() - t1;
        const same = await p.evaluate(() => window.__noReload === true && window.__player.protocol === 'webrtc' && window.__player.peerConnection === window.__pc0);
        assert(same, 'not the same WebRTC session (or the page was reloaded)');
        const q = await videoProgress(p, 'video', 2000);
        assert(q.dframes > 0, 'no frame shown after the return');
        await sleep(8000);
        const r = await videoProgress(p, 'video', 2000);
        const lat = await p.evaluate(() => window.__player.getStats()?.latencyMs);
        return `offline after ${(tOffline / 1000).toFixed(1)} s; live again ${(tBack / 1000).toFixed(1)} s after es-testcam was ready, same session; frames shown in 2 s: ${q.dframes} at once, ${r.dframes} 8 s later, latency then ${lat === null || lat === undefined ? '–' : `${(lat / 1000).toFixed(2)} s`}`;
      } finally {
        await p.close();
      }
    });

    await test('dashboard in Supabase mode (config.json + anon key) reads the cameras table; tiles play from the origin', async () => {
      const anonKey = 'test-anon-key';
      const row = (id, camera_key, name, profile, is_active = true) => ({
        id,
        camera_key,
        name,
        stream_url: `${origin}/live/${camera_key}/stream.m3u8`,
        location_id: 1,
        status: 'active',
        is_active,
        profile,
      });
      standin = await startPostgrestStandin({
        anonKey,
        rows: [
          row(1, camLL.id, 'Front Door', 'll'),
          row(2, camClassic.id, 'Floor Camera', 'low'),
          row(3, 'cam_stock', 'Stock Room', 'low', false), // inactive: must not be shown
        ],
      });
      // Served by the origin, next to its own copy of the app (web_root/supabase/).  protocol
      // ll-hls (config.json): this test is about the table's profiles reaching hls.js.
      fs.writeFileSync(path.join(webRoot, 'supabase', 'config.json'), JSON.stringify({ supabaseUrl: standin.url, supabaseAnonKey: anonKey, protocol: 'll-hls' }));
      const p2 = await ctx.newPage();
      try {
        await p2.goto(`${origin}/supabase/?debug=1`);
        await waitFor(
          p2,
          () => document.querySelectorAll('li[data-camera]').length === 2 && [...document.querySelectorAll('li[data-camera]')].every((t) => t.dataset.state === 'live'),
          null,
          25000,
          'two live tiles from Supabase',
        );
        const names = await p2.$$eval('.tile-name', (els) => els.map((e) => e.textContent));
        assert(names.join(',') === 'Floor Camera,Front Door', `tiles: ${names}`);
        const sub = await p2.textContent('.app-sub');
        assert(/Supabase/.test(sub || ''), `header says "${sub}"`);
        const q = standin.queries[0];
        assert(q && q.apikey === anonKey, `no anon key sent: ${JSON.stringify(q)}`);
        assert(/is_active=eq\.true/.test(q.search) && /select=/.test(q.search), `query ${q.search}`);
        for (const c of cams) {
          const v = await videoProgress(p2, `li[data-camera="${c.id}"] video`, 2000);
          assert(v.dt > 1.2 && v.dframes >= 15 && v.b.variance > 100, `${c.id} not playing: +${v.dt.toFixed(2)} s, +${v.dframes} frames`);
        }
        const players = await p2.evaluate(() =>
          Object.fromEntries(
            [...window.__edgestream.players].map(([id, h]) => [id, { url: h.hls?.url, sync: h.hls?.userConfig.liveSyncDurationCount, ll: h.hls?.config.lowLatencyMode }]),
          ),
        );
        for (const c of cams) {
          assert(players[c.id]?.url?.startsWith(`${origin}/live/${c.id}/stream.m3u8`), `${c.id} plays ${players[c.id]?.url}, not the origin's playlist`);
        }
        assert(players[camLL.id].sync === undefined && players[camClassic.id].sync === 2, `profiles from the table not applied: ${JSON.stringify(players)}`);
        return `query ${decodeURIComponent(q.search)}`;
      } finally {
        await p2.close();
      }
    });

    await test('origin with a token: the dashboard opened as /?token=… plays; without the token it says so', async () => {
      // A second daemon, with origin.token, reading the classic camera too (RTSP serves both).
      const dir = path.join(tmp, 'token');
      fs.mkdirSync(dir, { recursive: true });
      const token = `e2e-${crypto.randomBytes(12).toString('hex')}`;
      const guarded = new Daemon({
        binary: bins.edgestream,
        workDir: dir,
        webRoot,
        token,
        cameras: [{ id: camClassic.id, name: camClassic.name, profile: camClassic.profile, url: camClassic.cam.url }],
      });
      const p3 = await ctx.newPage();
      try {
        const base3 = (await guarded.start()).replace(/\/$/, '');
        await guarded.waitPlaylist(camClassic.id);
        await p3.goto(`${base3}/`);
        await waitFor(p3, () => /HTTP 401/.test(document.querySelector('[role="alert"]')?.textContent ?? ''), null, 15000, 'the dashboard to report the missing token');
        await p3.goto(`${base3}/?token=${encodeURIComponent(token)}`);
        await waitFor(
          p3,
          (id) => document.querySelector(`li[data-camera="${id}"]`)?.dataset.state === 'live',
          camClassic.id,
          25000,
          'the tile to play with the token',
        );
        const t0 = await p3.evaluate(() => document.querySelector('video').currentTime);
        await sleep(2000);
        const t1 = await p3.evaluate(() => document.querySelector('video').currentTime);
        assert(t1 - t0 > 1.2, `currentTime advanced ${(t1 - t0).toFixed(2)} s in 2 s`);
        const refused = await fetch(`${base3}/live/${camClassic.id}/stream.m3u8`);
        assert(refused.status === 401, `the playlist without the token: HTTP ${refused.status}`);
        return `401 without the token; with it, played ${(t1 - t0).toFixed(1)} s in 2 s`;
      } finally {
        await p3.close();
        const r = await guarded.stop();
        assert(r && r.code === 0, `the daemon with a token exited with ${JSON.stringify(r)}`);
      }
    });

    await test(
      'edgestream stayed up all run, logged no ERROR, and stops cleanly on SIGTERM',
      async () => {
        assert(daemon.alive(), `edgestream exited during the run: ${JSON.stringify(daemon.exit)}`);
        const r = await daemon.stop();
        assert(!r.forced, 'edgestream did not stop within 10 s of SIGTERM (killed)');
        assert(r.code === 0, `edgestream exited with ${r.signal ?? `status ${r.code}`}`);
        const errors = daemon.errorLines();
        assert(errors.length === 0, errors.slice(0, 5).join(' | '));
        return 'exit status 0';
      },
      { needsCodec: false },
    );

    const relevant = consoleErrors.filter((e) => !/Failed to load resource/.test(e));
    await test(
      'no uncaught errors in the browser console',
      async () => {
        assert(relevant.length === 0, relevant.slice(0, 5).join(' | '));
      },
      { needsCodec: false },
    );
  } catch (err) {
    results.push({ name: 'setup', ok: false, err });
    console.log(`FAIL setup: ${err && err.stack ? err.stack : err}`);
  } finally {
    await cleanup();
  }
  // The recording timeline (issue 14) runs its own recorded daemon and camera, after the
  // rest has stopped: e2e/timeline.mjs, in a child process; its lines are kept in the note.
  await test('recording timeline: VOD from a clicked time, first frame within one segment (e2e/timeline.mjs)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [path.join(here, 'timeline.mjs')], { env: process.env, encoding: 'utf8', timeout: 180_000 });
    const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n');
    const measured = lines.filter((l) => /first frame/.test(l)).map((l) => l.replace(/^ok\s+.*— /, ''));
    assert(r.status === 0, `exit ${r.status ?? r.signal}: ${lines.filter((l) => /^FAIL/.test(l)).join(' | ') || lines.slice(-5).join(' | ')}`);
    return measured.join('; ');
  });
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  if (failed || process.env.E2E_KEEP_TMP) {
    // The logs of the daemon and cameras, for whoever reads the failure.
    for (const f of fs.readdirSync(tmp).filter((n) => /\.(stderr|log)$/.test(n))) {
      const lines = fs.readFileSync(path.join(tmp, f), 'utf8').trimEnd().split('\n');
      console.log(`----- ${f} (last ${Math.min(lines.length, 25)} of ${lines.length} lines; all in ${tmp})`);
      console.log(lines.slice(-25).join('\n'));
    }
    fs.rmSync(webRoot, { recursive: true, force: true });
  } else {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const total = results.reduce((a, r) => a + (r.ms || 0), 0);
  console.log(`e2e: ${(total / 1000).toFixed(1)} s in tests; screenshots in ${path.relative(process.cwd(), shotsDir) || '.'}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
