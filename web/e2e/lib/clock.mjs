// Glass-to-glass in the browser: reads es-testcam's burned-in block code (its capture time,
// layout in tests/tools/testcam.c's header; tests/tools/clockcode.py is the same reader for
// stills) from every frame a <video> presents, whatever feeds it (hls.js/MSE, native HLS or a
// WebRTC srcObject).
//
//   import { clockSampler, summarize } from './lib/clock.mjs';
//   await page.addInitScript(clockSampler);          // before the page's own scripts
//   ... later: const r = await page.evaluate(() => window.__glass.take());
//   // r.samples: [{ captureMs, displayMs, mediaMs }], r.misses: frames without a readable code,
//   // r.late: frames dropped because the callback ran too late to be sure what it drew
//
// `clockSampler` runs IN THE PAGE (playwright serializes it: it must not use anything from
// this module's scope). It watches the first <video> that shows frames (and moves to a new one
// if the player replaces its element), and for every presented frame, in
// requestVideoFrameCallback:
//   - draws the frame's bottom two rows of cells (1/9 of its height) onto a canvas at the
//     frame's own size (videoWidth x videoHeight: the decoded picture, not the page's CSS
//     box) and reads the 64 cells' mean luma (the centre half of each cell);
//   - captureMs = the code (the camera's wall clock, ms since the Unix epoch);
//   - displayMs = performance.timeOrigin + metadata.expectedDisplayTime. expectedDisplayTime is
//     when the compositor expects this frame to be on screen, on the performance.now()
//     timeline; timeOrigin (ms since the epoch at that timeline's zero) maps it to the wall
//     clock, the camera's clock on this same machine. It is the display moment, not the
//     callback's (which runs before it), so glass-to-glass = displayMs - captureMs includes
//     the last compositor frame. Headless Chromium composites on a simulated 60 Hz vsync.
//   - drawImage() draws the video's *current* frame. On a busy main thread the callback can run
//     so late that the compositor has already taken the NEXT frame, and the code read would
//     then be that frame's (a newer capture against this frame's display time: too low a
//     figure). So a sample is kept only once the next callback shows that the next frame was
//     due after the draw: its presentedFrames is exactly one more, and its expectedDisplayTime
//     lies more than one vsync (20 ms) after the moment of the draw. The rest count as `late`.
//   - mediaMs (rtpTimestamp / 90 for WebRTC, else mediaTime * 1000) is kept for analysis.
export function clockSampler() {
  const COLS = 32, ROWS = 18, FIRST_ROW = 16, CELLS = 64, TIME_BITS = 42, MIN_CONTRAST = 48;
  const g = {
    samples: [],
    misses: 0,
    frames: 0,
    video: null,
    lastCapture: 0,
    repeats: 0, // presented frames carrying the same code as the previous one (not sampled)
    late: 0, // samples dropped: the next frame may already have been current when drawn
    pending: null, // the newest sample, until the next callback confirms it
  };
  const VSYNC_MS = 20;
  const canvas = document.createElement('canvas');
  let ctx = null;

  const crc16 = (ms) => {
    let crc = 0xffff;
    for (let b = 5; b >= 0; b--) {
      crc ^= (Math.floor(ms / 2 ** (8 * b)) % 256) << 8;
      for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
  };

  // The capture time coded in `video`'s current frame, or null.
  const read = (video) => {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    const top = Math.floor((FIRST_ROW * h) / ROWS);
    const sh = h - top;
    if (canvas.width !== w || canvas.height !== sh) {
      canvas.width = w;
      canvas.height = sh;
      ctx = canvas.getContext('2d', { willReadFrequently: true });
    }
    ctx.drawImage(video, 0, top, w, sh, 0, 0, w, sh);
    const px = ctx.getImageData(0, 0, w, sh).data;
    const m = [];
    for (let i = 0; i < CELLS; i++) {
      const col = i % COLS, row = FIRST_ROW + Math.floor(i / COLS);
      const x0 = (col * w) / COLS, x1 = ((col + 1) * w) / COLS;
      const y0 = (row * h) / ROWS - top, y1 = ((row + 1) * h) / ROWS - top;
      const cx0 = Math.floor(x0 + (x1 - x0) / 4), cx1 = Math.max(cx0 + 1, Math.floor(x1 - (x1 - x0) / 4));
      const cy0 = Math.max(0, Math.floor(y0 + (y1 - y0) / 4)), cy1 = Math.min(sh, Math.max(cy0 + 1, Math.floor(y1 - (y1 - y0) / 4)));
      let sum = 0, n = 0;
      for (let y = cy0; y < cy1; y++) {
        for (let x = cx0; x < cx1; x++) {
          const o = (y * w + x) * 4;
          sum += 0.299 * px[o] + 0.587 * px[o + 1] + 0.114 * px[o + 2];
          n++;
        }
      }
      m.push(n ? sum / n : 0);
    }
    const white = (m[0] + m[2]) / 2, black = (m[1] + m[3]) / 2;
    if (white - black < MIN_CONTRAST) return null;
    const t = (white + black) / 2;
    const bits = m.map((v) => (v > t ? 1 : 0));
    if (bits[0] !== 1 || bits[1] !== 0 || bits[2] !== 1 || bits[3] !== 0 || bits[62] !== 0 || bits[63] !== 1) return null;
    let ms = 0;
    for (let i = 4; i < 4 + TIME_BITS; i++) ms = ms * 2 + bits[i];
    let crc = 0;
    for (let i = 46; i < 62; i++) crc = crc * 2 + bits[i];
    return crc === crc16(ms) ? ms : null;
  };

  const onFrame = (video) => (_now, meta) => {
    if (g.video !== video) return; // the player replaced its element: the new one is watched
    g.frames++;
    const p = g.pending;
    g.pending = null;
    if (p) {
      if (meta.presentedFrames === p.presentedFrames + 1 && meta.expectedDisplayTime - VSYNC_MS > p.drawnAt) g.samples.push(p.sample);
      else g.late++;
    }
    let captureMs = null;
    const drawnAt = performance.now();
    try {
      captureMs = read(video);
    } catch {
      captureMs = null; // e.g. a tainted canvas: counted as a miss
    }
    if (captureMs === null) g.misses++;
    else if (captureMs === g.lastCapture) g.repeats++;
    else {
      g.lastCapture = captureMs;
      const mediaMs = typeof meta.rtpTimestamp === 'number' ? meta.rtpTimestamp / 90 : meta.mediaTime * 1000;
      g.pending = {
        presentedFrames: meta.presentedFrames,
        drawnAt,
        sample: { captureMs, displayMs: performance.timeOrigin + meta.expectedDisplayTime, mediaMs },
      };
    }
    video.requestVideoFrameCallback(onFrame(video));
  };

  // Follow the playing <video> (LivePlayer swaps elements when it changes protocol).
  setInterval(() => {
    const vids = [...document.querySelectorAll('video')].filter((v) => v.isConnected && v.videoWidth > 0 && !v.paused);
    const v = vids[vids.length - 1];
    if (v && v !== g.video && 'requestVideoFrameCallback' in v) {
      g.video = v;
      g.lastCapture = 0;
      g.pending = null;
      v.requestVideoFrameCallback(onFrame(v));
    }
  }, 100);

  // Everything sampled since the last take (and the counters), then starts afresh.
  g.take = () => {
    const r = { samples: g.samples, misses: g.misses, frames: g.frames, repeats: g.repeats, late: g.late };
    g.samples = [];
    g.misses = 0;
    g.frames = 0;
    g.repeats = 0;
    g.late = 0;
    return r;
  };
  window.__glass = g;
}

/** Sorted-sample percentile (nearest rank). */
export function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** p50/p95/min/max of glass-to-glass delays (ms). */
export function summarize(delays) {
  const s = [...delays].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 0.5), p95: percentile(s, 0.95), min: s[0] ?? null, max: s[s.length - 1] ?? null };
}
