#!/usr/bin/env node
// The dashboard's recording timeline in Debian's Chromium, against the real daemon
// (settings.record: true) and es-testcam (docs/web.md, "Timeline"; issue 14, "Browser"):
//
//   ES_BINARY=../build/edgestream ES_TESTCAM=../build/tests/es-testcam node e2e/timeline.mjs
//
// (after `npm run build`; E2E_DIST=<dir> serves another build of the dashboard.)
//
// 1. Record ~40 s (2 s segments). Open the dashboard, enlarge the tile: the timeline shows
//    the recording (a recorded piece, spans.json). Zoom in with "+" on the focused bar until
//    the bar spans under 2 minutes.
// 2. Click the bar at a recorded time: the VOD plays. The first frame the <video> presents
//    after the click carries the test camera's burned-in capture time (e2e/lib/clock.mjs);
//    it must be within one segment (the playlist's longest EXTINF) of the time clicked.
// 3. Click at a time ~15 s away: the picture moves there (same check).
// 4. Hover shows the recorded picture at that time (/vod/<camera>/snapshot.jpg); Shift+arrows
//    select a range and the "Clip" link downloads it (/vod/<camera>/clip.mp4: an MP4);
//    "Live" returns to the live picture, whose poster is /live/<camera>/snapshot.jpg.
// The click and the sampler's reset happen in one synchronous page task, so no frame of
// the picture shown before the click can be taken for the first frame after it.
// Prints one line per check and the measured offsets; exits 1 on any failure.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Daemon, TestCam, findBinaries, killAllStarted } from './lib/edgestream.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { clockSampler } from './lib/clock.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
const distDir = path.resolve(process.env.E2E_DIST || path.join(webDir, 'dist'));
const shotsDir = path.resolve(process.env.E2E_SCREENSHOTS || path.join(here, 'screenshots'));
const CAM = 'cam_rec';
const SEGMENT_S = 2;
const RECORD_S = 40;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (t) => new Date(t).toISOString();

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Daemon whose one camera is recorded (record_root in its work directory), 2 s segments. */
class RecordingDaemon extends Daemon {
  writeConfig() {
    super.writeConfig();
    const root = path.join(this.workDir, 'recordings');
    let text = fs.readFileSync(this.configPath, 'utf8');
    text = text.replace('storage: []\n', `storage: []\nrecord_root: ${JSON.stringify(root)}\n`);
    text = text.replace(/(\n {4}settings:\n)/g, `$1      record: true\n      record_min_free_gb: 0\n      segment_duration: ${SEGMENT_S}\n`);
    fs.writeFileSync(this.configPath, text);
  }
}

async function getJson(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** The recorded spans (ms) the origin reports for the last hour. */
async function spans(base) {
  const now = Date.now();
  const u = `${base}vod/${CAM}/spans.json?start=${iso(now - 3600_000)}&end=${iso(now + 60_000)}`;
  const r = await fetch(u, { signal: AbortSignal.timeout(5000) });
  if (r.status === 404) return [];
  if (!r.ok) throw new Error(`GET ${u}: HTTP ${r.status}`);
  return (await r.json()).spans.map((s) => ({ start: Date.parse(s.start), end: Date.parse(s.end) }));
}

/**
 * Clicks the timeline bar at wall time `target` and, in the same page task, empties the
 * clock sampler. Returns the click's wall time and what the bar showed.
 */
async function clickBarAt(page, target) {
  return page.evaluate((t) => {
    const bar = document.querySelector('.timeline-bar');
    const vs = Date.parse(bar.dataset.viewStart);
    const ve = Date.parse(bar.dataset.viewEnd);
    const r = bar.getBoundingClientRect();
    const x = r.left + ((t - vs) / (ve - vs)) * r.width;
    const y = r.top + r.height / 2;
    if (!(t >= vs && t <= ve)) return { error: `target ${new Date(t).toISOString()} is not on the bar (${bar.dataset.viewStart} .. ${bar.dataset.viewEnd})` };
    window.__glass.take();
    const clickAt = performance.timeOrigin + performance.now();
    const o = { bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0, pointerId: 1, pointerType: 'mouse', isPrimary: true };
    bar.dispatchEvent(new PointerEvent('pointerdown', { ...o, buttons: 1 }));
    bar.dispatchEvent(new PointerEvent('pointerup', { ...o, buttons: 0 }));
    return { clickAt, viewMs: ve - vs, widthPx: r.width };
  }, target);
}

/** After a click: the VOD player's requested time, and the first presented frame's capture time. */
async function firstFrameAfter(page, click, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  const samples = [];
  let requested = null;
  while (Date.now() < end) {
    await sleep(250);
    const r = await page.evaluate(() => {
      const p = document.querySelector('.vodplayer');
      return { target: p?.dataset.vodTarget ?? null, state: p?.dataset.vodState ?? null, glass: window.__glass.take() };
    });
    requested = r.target;
    samples.push(...r.glass.samples);
    if (r.state === 'error') throw new Error(`the VOD player reports an error: ${await page.locator('.vodplayer-status').textContent()}`);
    if (samples.filter((s) => s.displayMs >= click.clickAt).length >= 10) break;
  }
  const after = samples.filter((s) => s.displayMs >= click.clickAt);
  assert(after.length > 0, `no frame with a readable clock was presented within ${timeoutMs} ms of the click`);
  // The frames after the first must follow it (one continuous run): the picture settled there.
  const jumps = after.slice(1).filter((s, i) => s.captureMs - after[i].captureMs < 0 || s.captureMs - after[i].captureMs > 1500).length;
  return { requested: requested ? Date.parse(requested) : null, first: after[0], count: after.length, jumps, firstDelayMs: after[0].displayMs - click.clickAt };
}

async function main() {
  const bins = findBinaries(path.resolve(webDir, '..'));
  assert(fs.existsSync(path.join(distDir, 'index.html')), `${distDir}/index.html missing: run \`npm run build\` first`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'es-e2e-timeline-'));
  const webRoot = path.join(tmp, 'www');
  fs.cpSync(distDir, webRoot, { recursive: true, filter: (s) => !s.endsWith('.map'), dereference: true });
  fs.mkdirSync(shotsDir, { recursive: true });
  const cam = new TestCam({ binary: bins.testcam, label: 'cam', logDir: tmp });
  let daemon = null;
  let browser = null;
  const results = [];
  const check = async (name, fn) => {
    const t0 = Date.now();
    try {
      const note = await fn();
      results.push(true);
      console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${note ? ` — ${note}` : ''}`);
    } catch (err) {
      results.push(false);
      console.log(`FAIL ${name}: ${err?.message ?? err}`);
    }
  };
  const started = Date.now();
  try {
    await cam.start();
    daemon = new RecordingDaemon({ binary: bins.edgestream, workDir: tmp, webRoot, cameras: [{ id: CAM, name: 'Till', profile: 'low', url: cam.url }] });
    const base = await daemon.start();
    await daemon.waitPlaylist(CAM);

    // 1. Record ~40 s.
    let rec = [];
    const recEnd = Date.now() + (RECORD_S + 30) * 1000;
    while (Date.now() < recEnd) {
      rec = await spans(base);
      if (rec.length && rec[rec.length - 1].end - rec[0].start >= RECORD_S * 1000) break;
      await sleep(1000);
    }
    const span = rec[rec.length - 1];
    assert(span && span.end - span.start >= (RECORD_S - 5) * 1000, `recorded ${JSON.stringify(rec)} after ${RECORD_S + 30} s`);
    const playlist = await (await fetch(`${base}vod/${CAM}/index.m3u8?start=${iso(span.start)}&end=${iso(span.end)}`)).text();
    const segS = Math.max(...[...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1])));
    console.log(`recorded ${((span.end - span.start) / 1000).toFixed(1)} s in ${rec.length} span(s), longest segment ${segS} s`);

    browser = await launchBrowser();
    const page = await browser.context.newPage();
    await page.addInitScript(clockSampler);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}?protocol=hls`);
    const tile = page.locator(`li[data-camera="${CAM}"]`);
    await tile.waitFor({ timeout: 15000 });

    await check('live tile has the snapshot as its poster', async () => {
      const poster = await tile.locator('video').first().getAttribute('poster');
      assert(poster && poster.includes(`/live/${CAM}/snapshot.jpg`), `poster is ${poster}`);
      const r = await fetch(new URL(poster, base));
      const body = Buffer.from(await r.arrayBuffer());
      return `poster ${new URL(poster, base).pathname}: HTTP ${r.status}${r.ok ? `, ${body.length} B, JPEG ${body[0] === 0xff && body[1] === 0xd8}` : ''}`;
    });

    await check('enlarging the tile shows the recording on the timeline, zoomable to minutes', async () => {
      await tile.locator('.tile-open').click();
      const bar = page.locator('.timeline-bar');
      await bar.waitFor({ timeout: 5000 });
      await page.waitForSelector('.timeline-bar .tl-recorded', { timeout: 10000 });
      assert((await page.locator('[data-testid="tl-span"]').textContent()) === '24 h', 'the bar does not start at 24 h');
      await bar.focus();
      await page.keyboard.press('End'); // the cursor to now: zooming keeps it in place
      for (let i = 0; i < 10; i++) await page.keyboard.press('+');
      const label = await page.locator('[data-testid="tl-span"]').textContent();
      const vs = Date.parse(await bar.getAttribute('data-view-start'));
      const ve = Date.parse(await bar.getAttribute('data-view-end'));
      assert(ve - vs <= 2 * 60_000 && ve - vs >= 60_000, `zoomed view is ${(ve - vs) / 1000} s (${label})`);
      const aria = await bar.getAttribute('aria-valuetext');
      return `bar spans ${label}; aria-valuetext "${aria}"`;
    });

    const measure = async (name, target) => {
      await check(name, async () => {
        const click = await clickBarAt(page, target);
        assert(!click.error, click.error);
        const r = await firstFrameAfter(page, click);
        assert(r.requested !== null, 'no VOD player after the click');
        const px = click.viewMs / click.widthPx;
        assert(Math.abs(r.requested - target) <= px + 1, `the player asked for ${iso(r.requested)}, the click was at ${iso(target)} (1 px = ${px.toFixed(0)} ms)`);
        const offset = r.first.captureMs - r.requested;
        assert(Math.abs(offset) <= segS * 1000, `first frame shows ${iso(r.first.captureMs)}, ${offset} ms from the requested ${iso(r.requested)} (one segment: ${segS} s)`);
        assert(r.jumps === 0, `the picture jumped ${r.jumps} times in the ${r.count} frames after the first`);
        return `requested ${iso(r.requested)}, first frame ${offset >= 0 ? '+' : ''}${offset} ms (shown ${r.firstDelayMs.toFixed(0)} ms after the click), ${r.count} frames continuous`;
      });
    };
    const t1 = span.start + 8_000;
    const t2 = span.start + 25_000;
    await measure('click on the timeline plays the recording from that time (first frame within one segment)', t1);
    await sleep(1500);
    await measure('clicking another time moves the picture there (first frame within one segment)', t2);
    await page.screenshot({ path: path.join(shotsDir, 'timeline-vod.png') });

    await check('the playhead follows the recording', async () => {
      await page.waitForSelector('[data-testid="tl-playhead"]', { timeout: 5000 });
      const text = await page.locator('.tl-where').textContent();
      assert(/^Playing /.test(text), `status says "${text}"`);
      return text;
    });

    await check('hovering shows the recorded picture at that time', async () => {
      const box = await page.locator('.timeline-bar').boundingBox();
      const vs = Date.parse(await page.locator('.timeline-bar').getAttribute('data-view-start'));
      const ve = Date.parse(await page.locator('.timeline-bar').getAttribute('data-view-end'));
      const t = span.start + 15_000;
      await page.mouse.move(box.x + ((t - vs) / (ve - vs)) * box.width, box.y + box.height / 2);
      await page.waitForSelector('.tl-preview', { timeout: 3000 });
      const img = page.locator('.tl-preview img');
      if ((await img.count()) === 0) return `no thumbnail: "${await page.locator('.tl-preview').textContent()}"`;
      const src = await img.getAttribute('src');
      await page.waitForFunction(() => {
        const i = document.querySelector('.tl-preview img');
        return !i || i.complete;
      }, null, { timeout: 5000 });
      const state = await page.evaluate(() => {
        const i = document.querySelector('.tl-preview img');
        return i ? { w: i.naturalWidth, h: i.naturalHeight } : null;
      });
      const shown = state && state.w > 0 ? `${state.w}x${state.h}` : `not loaded ("${await page.locator('.tl-preview').textContent()}")`;
      await page.screenshot({ path: path.join(shotsDir, 'timeline-hover.png') });
      assert(state && state.w > 0, `thumbnail ${src} ${shown}`);
      return `thumbnail ${new URL(src, base).pathname} ${shown}`;
    });

    await check('Shift+arrows select a range and "Clip" links to an MP4 of it', async () => {
      await page.mouse.move(0, 0);
      await page.locator('.timeline-bar').focus();
      for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowRight');
      const link = page.locator('a.tl-clip');
      await link.waitFor({ timeout: 2000 });
      const href = await link.getAttribute('href');
      const u = new URL(href, base);
      const len = Date.parse(u.searchParams.get('end')) - Date.parse(u.searchParams.get('start'));
      assert(u.pathname === `/vod/${CAM}/clip.mp4` && len > 0, `clip link ${href}`);
      const r = await fetch(u, { signal: AbortSignal.timeout(20000) });
      const body = Buffer.from(await r.arrayBuffer());
      assert(r.ok, `GET ${u.pathname}${u.search}: HTTP ${r.status} ${body.toString().slice(0, 120)}`);
      assert(body.subarray(4, 8).toString() === 'ftyp', 'the clip does not start with an ftyp box');
      return `${(len / 1000).toFixed(1)} s selected, clip.mp4 ${body.length} B`;
    });

    await check('"Live" returns to the live picture', async () => {
      await page.getByRole('button', { name: 'Live' }).click();
      await page.waitForSelector(`li[data-camera="${CAM}"][data-mode="live"]`, { timeout: 3000 });
      assert((await page.locator('.vodplayer').count()) === 0, 'the VOD player is still there');
      await page.waitForFunction(() => {
        const v = document.querySelector('.tile-expanded video');
        return v && !v.paused && v.readyState >= 2;
      }, null, { timeout: 15000 });
      const pressed = await page.getByRole('button', { name: 'Live' }).getAttribute('aria-pressed');
      assert(pressed === 'true', `Live aria-pressed=${pressed}`);
    });

    await check('Enter on the focused bar plays from the keyboard cursor', async () => {
      await page.locator('.timeline-bar').focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('.vodplayer[data-vod-state="playing"]', { timeout: 15000 });
      const now = Number(await page.locator('.timeline-bar').getAttribute('aria-valuenow'));
      const target = Date.parse(await page.locator('.vodplayer').getAttribute('data-vod-target'));
      assert(Math.floor(target / 1000) === now, `played ${iso(target)}, the cursor is at ${now}`);
    });
    assert(errors.length === 0, `page errors: ${errors.join('; ')}`);
  } catch (err) {
    results.push(false);
    console.log(`FAIL setup: ${err?.message ?? err}`);
  } finally {
    if (browser) await browser.close();
    if (daemon) await daemon.stop();
    await cam.kill();
    killAllStarted();
    const failed = results.filter((r) => !r).length;
    if (failed || process.env.E2E_KEEP_TMP) console.log(`work directory kept: ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
    console.log(`${results.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    process.exitCode = failed ? 1 : 0;
  }
}

await main();
