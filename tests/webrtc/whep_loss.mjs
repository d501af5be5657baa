#!/usr/bin/env node
// Watches one WHEP session in Debian's Chromium closely, for the packet-loss test
// (tests/integration/test_webrtc_loss.py), and prints one JSON object at the end:
//
//   node tests/webrtc/whep_loss.mjs --base http://127.0.0.1:8080/ --camera cam1 --seconds 16
//
// A bare RTCPeerConnection (recvonly video, like whep_play.mjs) plays /whep/<camera>. When
// the first frame is presented it prints a line `first_frame <wall ms>` at once, so that the
// test can time its network faults from there; then it samples the video receiver's
// inbound-rtp every 100 ms for `seconds` (wall clock and cumulative counters: frames
// received, decoded and dropped, keyframes decoded, packets received and lost, PLI, FIR and
// NACK sent, freezes), keeps the wall clock of every presented frame
// (requestVideoFrameCallback), and at the end DELETEs the session. The page is never
// reloaded: one RTCPeerConnection from the POST to the DELETE.
// The browser is web/e2e/lib/browser.mjs's (Debian's Chromium, loopback ICE allowed).
import { arg, runInBrowser } from './script.mjs';

const base = arg('base', 'http://127.0.0.1:8080/');
const camera = arg('camera', 'cam1');
const seconds = Number(arg('seconds', '16'));

const out = { base, camera, seconds };
await runInBrowser(out, seconds, async (page) => {
  await page.exposeFunction('reportFirstFrame', (wallMs) => console.log(`first_frame ${wallMs}`));
  await page.goto(new URL('healthz', base).href);
  const result = await page.evaluate(async ({ camera, seconds }) => {
    const { pc, video, resp, events, error } = await window.whepView(camera);
    const r = { events, post_status: resp.status };
    if (error) {
      r.error = error;
      return r;
    }
    r.frame_wall_ms = [];
    const onFrame = () => { r.frame_wall_ms.push(Date.now()); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
    const deadline = performance.now() + 25000;
    while (!r.frame_wall_ms.length && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    if (!r.frame_wall_ms.length) {
      r.error = `no frame within 25 s (ICE ${pc.iceConnectionState})`;
      return r;
    }
    await window.reportFirstFrame(r.frame_wall_ms[0]);
    const inbound = async () => {
      const s = await pc.getStats();
      let v = null;
      s.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') v = x; });
      return v;
    };
    r.samples = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const v = await inbound();
      if (v) {
        r.samples.push({
          wall_ms: Date.now(), frames_received: v.framesReceived ?? 0, frames_decoded: v.framesDecoded ?? 0,
          frames_dropped: v.framesDropped ?? 0, key_frames_decoded: v.keyFramesDecoded ?? 0,
          packets_received: v.packetsReceived ?? 0, packets_lost: v.packetsLost ?? 0,
          pli: v.pliCount ?? 0, fir: v.firCount ?? 0, nack: v.nackCount ?? 0, freezes: v.freezeCount ?? 0,
        });
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    r.ice = pc.iceConnectionState;
    r.pc = pc.connectionState;
    const loc = resp.headers.get('Location');
    r.delete_status = loc ? (await fetch(loc, { method: 'DELETE' })).status : null;
    pc.close();
    return r;
  }, { camera, seconds });
  return result;
});
