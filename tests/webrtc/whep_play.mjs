#!/usr/bin/env node
// Plays one camera over WHEP in Debian's Chromium (headless, playwright-core from
// web/node_modules; never a downloaded browser) and prints one JSON object:
//
//   node tests/webrtc/whep_play.mjs --base http://127.0.0.1:8080/ --camera cam1 --seconds 8
//
// The page is loaded from the daemon's own origin (same-origin POST, no CORS), makes a
// recvonly video transceiver, POSTs the offer to /whep/<camera>, applies the answer and
// watches the <video>: decoded frames (getStats inbound-rtp framesDecoded), the longest gap
// between presented frames (requestVideoFrameCallback) and the picture size. At the end it
// DELETEs the session (the Location URL) and reports the status. Gaps above 500 ms are listed
// with the wall clock at which frames resumed (for the camera-loss test).
// The browser is the web e2e tests' own launch (web/e2e/lib/browser.mjs: Debian's Chromium,
// the flags, loopback ICE allowed, cleanup by PID).
import { arg, runInBrowser } from './script.mjs';

const base = arg('base', 'http://127.0.0.1:8080/');
const camera = arg('camera', 'cam1');
const seconds = Number(arg('seconds', '8'));
const token = arg('token', '');

const out = { base, camera, seconds };
await runInBrowser(out, seconds, async (page) => {
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  // Any URL of the origin gives the page its origin; /healthz is always there.
  await page.goto(new URL('healthz', base).href);
  const result = await page.evaluate(async ({ camera, seconds, token }) => {
    const { pc, video, resp, answer, t0, events, error } = await window.whepView(camera, { audio: true, token });
    const r = { events, post_status: resp.status, location: resp.headers.get('Location') };
    if (error) {
      r.error = error;
      return r;
    }
    r.answer_has_ice_lite = answer.includes('a=ice-lite');
    // How long until Chromium can map the picture to the sender's clock (the player's
    // latency figure: inbound-rtp estimatedPlayoutTimestamp, which needs sender reports of
    // both streams), polled every 100 ms for up to 20 s, from the answer on.
    const tAnswer = performance.now();
    r.first_playout_estimate_ms = null;
    (async () => {
      while (performance.now() - tAnswer < 20000 && pc.connectionState !== 'closed') {
        const s = await pc.getStats();
        let est = null;
        s.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video' && x.estimatedPlayoutTimestamp) est = x.estimatedPlayoutTimestamp; });
        if (est) { r.first_playout_estimate_ms = Math.round(performance.now() - tAnswer); return; }
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    // Frames: rVFC timestamps; the first frame marks the start of the watch.
    const frameTimes = [];
    const frameWall = []; // Date.now() of each presented frame, to compare with the test's clock
    const onFrame = (now) => {
      frameTimes.push(now);
      frameWall.push(Date.now());
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    const deadline = performance.now() + 20000;
    while (!frameTimes.length && performance.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    if (!frameTimes.length) {
      r.error = 'no frame within 20 s';
      r.ice = pc.iceConnectionState;
      r.pc = pc.connectionState;
      return r;
    }
    r.first_frame_ms = Math.round(frameTimes[0] - t0);
    const watchStart = frameTimes.length;
    const statsOf = async (kind = 'video') => {
      const s = await pc.getStats();
      let v = null;
      s.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === kind) v = x; });
      return v;
    };
    const audioBefore = await statsOf('audio');
    // The first frame can be presented a moment before the report lists its inbound-rtp
    // (seen under load): ask again for up to 3 s.
    let before = await statsOf();
    for (let i = 0; !before && i < 30; i++) {
      await new Promise((res) => setTimeout(res, 100));
      before = await statsOf();
    }
    // One sample of the video receiver a second (wall clock, cumulative counters), so a
    // test can judge any window: frames decoded per second, jitter buffer delay per frame.
    r.samples = [];
    const watchEnd = performance.now() + seconds * 1000;
    while (performance.now() < watchEnd) {
      await new Promise((res) => setTimeout(res, Math.min(1000, Math.max(0, watchEnd - performance.now()))));
      const v = await statsOf();
      if (v) {
        r.samples.push({
          wall_ms: Date.now(), frames_received: v.framesReceived, frames_decoded: v.framesDecoded,
          frames_dropped: v.framesDropped, freezes: v.freezeCount,
          jitter_buffer_delay: v.jitterBufferDelay, jitter_buffer_emitted: v.jitterBufferEmittedCount,
          estimated_playout_ms: v.estimatedPlayoutTimestamp ?? null,
        });
      }
    }
    const after = await statsOf();
    const watched = frameTimes.slice(watchStart - 1);
    let maxGap = 0;
    for (let i = 1; i < watched.length; i++) maxGap = Math.max(maxGap, watched[i] - watched[i - 1]);
    maxGap = Math.max(maxGap, performance.now() - watched[watched.length - 1]);
    // Every gap above 500 ms: when it ended (wall clock, ms) and how long it was.
    r.gaps = [];
    for (let i = watchStart; i < frameTimes.length; i++) {
      const gap = frameTimes[i] - frameTimes[i - 1];
      if (gap > 500) r.gaps.push({ resumed_wall_ms: frameWall[i], gap_ms: Math.round(gap) });
    }
    r.frames_presented = watched.length;
    r.max_gap_ms = Math.round(maxGap);
    if (!before || !after) {
      // Seen rarely: no video inbound-rtp in a report. Say which, with what was there.
      const kinds = [];
      (await pc.getStats()).forEach((x) => kinds.push(`${x.type}${x.kind ? `/${x.kind}` : ''}`));
      r.error = `no video inbound-rtp ${before ? 'at the end' : 'after the first frame'}: ${kinds.join(' ')}`;
      r.ice = pc.iceConnectionState;
      return r;
    }
    r.frames_decoded = after.framesDecoded - before.framesDecoded;
    const audioAfter = await statsOf('audio');
    r.audio_packets = audioAfter ? audioAfter.packetsReceived - (audioBefore ? audioBefore.packetsReceived : 0) : 0;
    r.audio_codec = null;
    if (audioAfter && audioAfter.codecId) {
      const all = await pc.getStats();
      const codec = all.get(audioAfter.codecId);
      r.audio_codec = codec ? codec.mimeType : null;
    }
    r.packets_lost = after.packetsLost;
    r.nack_count = after.nackCount;
    r.pli_count = after.pliCount;
    r.width = video.videoWidth;
    r.height = video.videoHeight;
    r.ice = pc.iceConnectionState;
    r.pc = pc.connectionState;
    const del = await fetch(r.location, { method: 'DELETE', headers: token ? { Authorization: `Bearer ${token}` } : {} });
    r.delete_status = del.status;
    pc.close();
    return r;
  }, { camera, seconds, token });
  return { ...result, logs: logs.slice(0, 20) };
});
