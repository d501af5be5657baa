#!/usr/bin/env node
// Which path does Chromium's WebRTC take, and does it play? Two modes, one JSON line out.
//
//   node tests/webrtc/whep_transport.mjs --base http://127.0.0.1:8080/ --camera cam1 --seconds 6
//     A bare RTCPeerConnection (like whep_play.mjs) plays /whep/<camera>; reports the
//     selected candidate pair (protocol and port of our candidate), the time from the POST
//     to the first presented frame, frames decoded and the longest gap while watching.
//
//   node tests/webrtc/whep_transport.mjs --base ... --camera cam1 --player auto --seconds 4
//     Loads the dashboard's own player page (player.html, protocol=auto, debug=1) and waits
//     until it plays; reports which protocol it ended on (window.__player), whether a WHEP
//     POST was made and answered, and how the <video> moved over `seconds`.
//
// The browser is web/e2e/lib/browser.mjs's (Debian's Chromium, loopback ICE allowed).
import { arg, runInBrowser } from './script.mjs';

const base = arg('base', 'http://127.0.0.1:8080/');
const camera = arg('camera', 'cam1');
const seconds = Number(arg('seconds', '6'));
const player = arg('player', '');

const out = { base, camera, seconds };
async function bare(page) {
  await page.goto(new URL('healthz', base).href);
  return page.evaluate(async ({ camera, seconds }) => {
    const { pc, video, resp, answer, t0, events, error } = await window.whepView(camera);
    const r = { events, post_status: resp.status };
    if (error) {
      r.error = error;
      return r;
    }
    r.answer_tcp_candidates = (answer.match(/^a=candidate:.* tcp .*tcptype passive/gm) || []).length;
    const frames = [];
    const onFrame = (now) => { frames.push(now); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
    const deadline = performance.now() + 25000;
    while (!frames.length && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    r.ice = pc.iceConnectionState;
    if (!frames.length) {
      r.error = `no frame within 25 s (ICE ${pc.iceConnectionState})`;
      return r;
    }
    r.first_frame_ms = Math.round(frames[0] - t0);
    const stats = async () => {
      const s = await pc.getStats();
      const o = { inbound: null, pair: null, local: null, remote: null };
      s.forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'video') o.inbound = x;
        if (x.type === 'transport' && x.selectedCandidatePairId) o.pair = s.get(x.selectedCandidatePairId);
      });
      if (o.pair) {
        o.local = s.get(o.pair.localCandidateId);
        o.remote = s.get(o.pair.remoteCandidateId);
      }
      return o;
    };
    const before = await stats();
    const from = frames.length;
    await new Promise((res) => setTimeout(res, seconds * 1000));
    const after = await stats();
    const watched = frames.slice(from - 1);
    let maxGap = 0;
    for (let i = 1; i < watched.length; i++) maxGap = Math.max(maxGap, watched[i] - watched[i - 1]);
    maxGap = Math.max(maxGap, performance.now() - watched[watched.length - 1]);
    r.max_gap_ms = Math.round(maxGap);
    r.frames_decoded = after.inbound.framesDecoded - before.inbound.framesDecoded;
    r.packets_lost = after.inbound.packetsLost;
    r.transport = after.remote ? after.remote.protocol : null;
    r.remote_port = after.remote ? after.remote.port : null;
    r.remote_tcp_type = after.remote ? after.remote.tcpType || null : null;
    r.local_protocol = after.local ? after.local.protocol : null;
    r.ice = pc.iceConnectionState;
    const loc = resp.headers.get('Location');
    r.delete_status = loc ? (await fetch(loc, { method: 'DELETE' })).status : null;
    pc.close();
    return r;
  }, { camera, seconds });
}

async function withPlayer(page) {
  const r = { whep: [] };
  page.on('response', (resp) => {
    if (/\/whep\//.test(resp.url()) && resp.request().method() === 'POST') r.whep.push(resp.status());
  });
  const logs = [];
  page.on('console', (m) => logs.push(m.text()));
  const t0 = Date.now();
  await page.goto(new URL(`player.html?src=/live/${camera}/stream.m3u8&protocol=${player}&debug=1`, base).href);
  const deadline = Date.now() + 30000;
  let st = null;
  for (;;) {
    st = await page.evaluate(() => {
      const p = window.__player;
      const s = p && p.getStats ? p.getStats() : null;
      return { protocol: p ? p.protocol : null, phase: s ? s.phase : null };
    });
    if (st.phase === 'live' && st.protocol && st.protocol !== 'webrtc') break;
    if (Date.now() > deadline) {
      r.error = `not playing a fallback within 30 s: protocol ${st.protocol}, phase ${st.phase}`;
      r.logs = logs.slice(-20);
      return r;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  r.live_ms = Date.now() - t0;
  r.protocol = st.protocol;
  const sample = () => page.evaluate(() => {
    const v = document.querySelector('video');
    const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    return { t: v ? v.currentTime : 0, frames: q ? q.totalVideoFrames : 0, w: v ? v.videoWidth : 0 };
  });
  const a = await sample();
  await new Promise((res) => setTimeout(res, seconds * 1000));
  const b = await sample();
  r.video_advance_s = Number((b.t - a.t).toFixed(3));
  r.video_frames = b.frames - a.frames;
  r.width = b.w;
  r.final_protocol = await page.evaluate(() => window.__player.protocol);
  r.logs = logs.filter((l) => /webrtc|fall|whep/i.test(l)).slice(-10);
  return r;
}

await runInBrowser(out, seconds, (page) => (player ? withPlayer(page) : bare(page)));
