#!/usr/bin/env node
// Browser tests of HLSPlayer and the dashboard in Debian's Chromium (playwright-core).
//
//   npm run e2e          (builds web/dist and the test pages first)
//   node e2e/run.mjs     (uses the existing builds)
//
// Needs: Debian packages chromium and ffmpeg; `npm ci` done.  Everything talks to 127.0.0.1.
// Two ffmpeg test cameras write live HLS (1 s segments, PROGRAM-DATE-TIME) into a temp dir;
// e2e/lib/fixture-server.mjs serves them, /api/cameras and the built app, standing in for the
// edgestream origin (issue 4) until it lands.
//
// Prints one line per test and ends with "N passed, M failed"; exits 1 on any failure.
// Screenshots go to e2e/screenshots/ (override with E2E_SCREENSHOTS=dir).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCamera, haveFfmpeg } from './lib/camera.mjs';
import { startFixtureServer } from './lib/fixture-server.mjs';
import { launchBrowser, codecSupport } from './lib/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
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

async function main() {
  for (const [dir, how] of [
    [path.join(distDir, 'index.html'), 'npm run build'],
    [path.join(harnessDir, 'memtest.html'), 'npx vite build --config vite.e2e.config.ts'],
  ]) {
    if (!fs.existsSync(dir)) {
      console.log(`FAIL setup: ${dir} missing; run \`${how}\` (or \`npm run e2e\`)`);
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
  }
  if (!haveFfmpeg()) {
    console.log('FAIL setup: ffmpeg not found (apt-get install -y ffmpeg)');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  fs.mkdirSync(shotsDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgestream-e2e-'));
  const camA = new TestCamera({ id: 'cam_door', dir: path.join(tmp, 'cam_door') });
  const camB = new TestCamera({ id: 'cam_floor', dir: path.join(tmp, 'cam_floor') });
  let server = null;
  let browser = null;
  const cleanup = async () => {
    await Promise.all([camA.kill(), camB.kill()]);
    if (browser) await browser.close();
    if (server) await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    camA.start();
    camB.start();
    server = await startFixtureServer({
      distDir,
      harnessDir,
      cameras: [
        { id: camA.id, name: 'Front Door', profile: 'ultra-low', dir: camA.dir },
        { id: camB.id, name: 'Floor Camera', profile: 'ultra-low', dir: camB.dir },
      ],
    });
    browser = await launchBrowser();
    const ctx = browser.context;
    const consoleErrors = [];
    ctx.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await Promise.all([camA.waitReady(3), camB.waitReady(3)]);

    // ---------------------------------------------------------------- codecs
    await test(
      'chromium: MSE can take H.264 + AAC (avc1.42E01E,mp4a.40.2)',
      async () => {
        const page = await ctx.newPage();
        await page.goto(`${server.url}/player.html`);
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
    await test('player.html: live stream plays, frames decode, stats latency = Date.now() - hls.playingDate', async () => {
      const page = await ctx.newPage();
      const workerRequests = [];
      page.on('request', (r) => {
        if (/hls\.worker/.test(r.url())) workerRequests.push(r.url());
      });
      await page.goto(`${server.url}/player.html?src=/live/${camA.id}/stream.m3u8&profile=ultra-low&debug=1`);
      await waitFor(page, () => window.__player?.hls && window.__player.video.currentTime > 1.5, null, 25000, 'playback to start');
      const p = await videoProgress(page, 'video', 2000);
      assert(p.b, 'no video element');
      assert(p.dt > 1.2, `video.currentTime advanced only ${p.dt.toFixed(2)} s in 2 s`);
      assert(p.dframes >= 15, `only ${p.dframes} frames decoded in 2 s (15 fps source)`);
      assert(p.b.w === 640 && p.b.h === 360, `video is ${p.b.w}x${p.b.h}, expected 640x360`);
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

    await test('player.html profile=ll: no liveSyncDurationCount reaches hls.js, hold-back sets the target', async () => {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/player.html?src=/live/${camA.id}/stream.m3u8&profile=ll&debug=1`);
      await waitFor(page, () => window.__player?.hls && window.__player.video.currentTime > 1, null, 25000, 'playback to start');
      const r = await page.evaluate(() => {
        const hls = window.__player.hls;
        const d = hls.latestLevelDetails ?? hls.levels[hls.currentLevel]?.details;
        return {
          userSync: hls.userConfig.liveSyncDurationCount,
          userMax: hls.userConfig.liveMaxLatencyDurationCount,
          lowLatencyMode: hls.config.lowLatencyMode,
          target: hls.targetLatency,
          td: d?.targetduration,
          holdBack: d?.holdBack,
          partHoldBack: d?.partHoldBack,
          rate: hls.config.maxLiveSyncPlaybackRate,
        };
      });
      assert(r.userSync === undefined && r.userMax === undefined, `user config has sync counts: ${JSON.stringify(r)}`);
      assert(r.lowLatencyMode === true, 'lowLatencyMode off');
      // This ffmpeg stream has no PART-HOLD-BACK / HOLD-BACK: hls.js then uses 3 x TARGETDURATION
      // (plus up to one target duration per stall), not 2 segments.
      const expected = r.partHoldBack || r.holdBack || 3 * r.td;
      assert(r.target >= expected - 0.01 && r.target <= expected + r.td + 0.01, `targetLatency ${r.target}, expected ≈ ${expected}`);
      await page.close();
      return `targetLatency ${r.target} s (TARGETDURATION ${r.td}, no PART-HOLD-BACK in this stream)`;
    });

    // ---------------------------------------------------------------- memory
    await test('mount/unmount HLSPlayer 50 times: heap does not grow, nothing survives', async () => {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/harness/memtest.html?src=/live/${camA.id}/stream.m3u8`);
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

    await test('dashboard lists the cameras from /api/cameras and every tile plays', async () => {
      await page.goto(`${server.url}/?debug=1`);
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
      const prog = await playersLive([camA.id, camB.id]);
      for (const [id, p] of Object.entries(prog)) {
        assert(p.dt > 1.2, `${id}: currentTime advanced ${p.dt.toFixed(2)} s in 2 s`);
        assert(p.dframes >= 15, `${id}: ${p.dframes} frames decoded in 2 s`);
        assert(p.b.variance > 100, `${id}: blank picture`);
      }
      // The overlay's latency is the player's stats, at most one stats period old.
      const lat = await page.evaluate(() => {
        const out = {};
        for (const [id, h] of window.__edgestream.players) {
          const el = document.querySelector(`li[data-camera="${id}"]`);
          out[id] = {
            overlay: Number(el.dataset.latencyMs),
            direct: Date.now() - h.hls.playingDate.getTime(),
            text: el.querySelector('.tile-stats')?.textContent,
          };
        }
        return out;
      });
      for (const [id, l] of Object.entries(lat)) {
        assert(Math.abs(l.overlay - l.direct) < 1200, `${id}: overlay latency ${l.overlay} ms vs Date.now()-hls.playingDate ${l.direct} ms`);
        assert(/\d+\.\d s/.test(l.text || ''), `${id}: overlay text "${l.text}"`);
      }
      await page.screenshot({ path: path.join(shotsDir, 'dashboard-live.png') });
      return Object.entries(lat)
        .map(([id, l]) => `${id} overlay ${(l.overlay / 1000).toFixed(1)} s / direct ${(l.direct / 1000).toFixed(1)} s`)
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

    await test('killing a camera turns its tile offline within seconds; the other keeps playing', async () => {
      await page.evaluate(() => {
        window.__noReload = true;
      });
      await camB.kill();
      const t0 = Date.now();
      await waitFor(page, (id) => document.querySelector(`li[data-camera="${id}"]`)?.dataset.state === 'offline', camB.id, 15000, `${camB.id} offline`);
      const tOffline = Date.now() - t0;
      assert(tOffline < 10000, `took ${tOffline} ms`);
      assert((await tileState(camA.id)) === 'live', `${camA.id} is ${await tileState(camA.id)}`);
      const p = (await playersLive([camA.id]))[camA.id];
      assert(p.dt > 1.2 && p.dframes >= 15, `${camA.id} disturbed: +${p.dt.toFixed(2)} s, +${p.dframes} frames`);
      await page.screenshot({ path: path.join(shotsDir, 'dashboard-offline.png') });
      return `offline after ${(tOffline / 1000).toFixed(1)} s`;
    });

    await test('restarting the camera brings its picture back without a page reload', async () => {
      camB.start();
      const t0 = Date.now();
      await waitFor(page, (id) => document.querySelector(`li[data-camera="${id}"]`)?.dataset.state === 'live', camB.id, 40000, `${camB.id} live again`);
      const tLive = Date.now() - t0;
      const p = (await playersLive([camB.id, camA.id]));
      assert(p[camB.id].dt > 1.2 && p[camB.id].dframes >= 15, `${camB.id} not playing: +${p[camB.id].dt.toFixed(2)} s`);
      assert(p[camA.id].dt > 1.2, `${camA.id} stopped`);
      assert(await page.evaluate(() => window.__noReload === true), 'the page was reloaded');
      return `live again ${(tLive / 1000).toFixed(1)} s after ffmpeg restarted`;
    });

    await page.close();

    await test('dashboard in Supabase mode (config.json + anon key) reads the cameras table', async () => {
      const queries = [];
      const sb = await startFixtureServer({
        distDir,
        cameras: [
          { id: camA.id, name: 'Front Door', profile: 'ultra-low', dir: camA.dir },
          { id: camB.id, name: 'Floor Camera', profile: 'low', dir: camB.dir },
          { id: 'cam_stock', name: 'Stock Room', profile: 'low', dir: camB.dir, active: false },
        ],
        supabase: { anonKey: 'test-anon-key', queries },
      });
      const p2 = await ctx.newPage();
      try {
        await p2.goto(`${sb.url}/`);
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
        const q = queries[0];
        assert(q && q.apikey === 'test-anon-key', `no anon key sent: ${JSON.stringify(q)}`);
        assert(/is_active=eq\.true/.test(q.search) && /select=/.test(q.search), `query ${q.search}`);
        return `query ${decodeURIComponent(q.search)}`;
      } finally {
        await p2.close();
        await sb.close();
      }
    });

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
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const total = results.reduce((a, r) => a + r.ms || 0, 0);
  console.log(`e2e: ${(total / 1000).toFixed(1)} s in tests; screenshots in ${path.relative(process.cwd(), shotsDir) || '.'}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
