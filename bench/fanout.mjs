#!/usr/bin/env node
// Simulated viewers for the fan-out benchmark (bench/origin_bench.py runs it).
//
//   node bench/fanout.mjs --mode ll --base http://127.0.0.1:8080/ --camera cam_ll \
//        --viewers 500 --seconds 30
//   node bench/fanout.mjs --mode classic --base http://127.0.0.1:8081/ \
//        --playlist /location_1/cam_classic/stream.m3u8 --dir streams/location_1/cam_classic ...
//
// ll: each viewer behaves like hls.js in low-latency mode: two keep-alive connections (as a
//   browser would use), a blocking playlist reload for the hinted part (_HLS_msn/_HLS_part,
//   _HLS_skip=YES) on one and the hinted part itself on the other, both held by the origin
//   until the part exists; parts it missed are fetched too. Delivery delay of a part = the
//   moment its last byte arrived here - x-edgestream-published-us (when the origin made it
//   fetchable; same machine, same clock).
// classic: each viewer reloads the playlist every target duration (random phase) and
//   fetches every new segment once; delay = last byte here - publication (the origin's
//   header, or for nginx the file's mtime under --dir).
// A viewer is "held" when every part (segment) from its first to the end arrived within
// --bound-ms (100) of publication, with no error and none skipped.
// Bounded: at most --viewers viewers, stops after --seconds (+ a 5 s drain). Loopback only.
// Prints one JSON object.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const mode = arg('mode', 'll');
const base = new URL(arg('base', 'http://127.0.0.1:8080/'));
const camera = arg('camera', 'cam_ll');
const viewers = Number(arg('viewers', '100'));
const seconds = Number(arg('seconds', '30'));
const warmup = Number(arg('warmup', '3'));
const boundMs = Number(arg('bound-ms', '100'));
const rampMs = Number(arg('ramp-ms', '2000'));
const playlistPath = arg('playlist', `/live/${camera}/stream.m3u8`);
const dir = arg('dir', '');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) {
  console.error('fanout: loopback only');
  process.exit(2);
}
const host = base.hostname.replace(/^\[|\]$/g, '');
const port = Number(base.port || 80);

const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One keep-alive HTTP/1.1 connection, one request at a time. */
class Conn {
  constructor() {
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.pending = null;
  }
  connect() {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host, port });
      s.setNoDelay(true);
      s.once('connect', () => resolve());
      s.once('error', (e) => {
        if (this.pending) this.pending.reject(e);
        this.pending = null;
        reject(e);
      });
      s.on('data', (d) => this.onData(d));
      s.on('close', () => {
        if (this.pending) this.pending.reject(new Error('closed'));
        this.pending = null;
        this.sock = null;
      });
      this.sock = s;
    });
  }
  onData(d) {
    const p = this.pending;
    if (!p) {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      return;
    }
    if (!p.head) {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      const lines = head.split('\r\n');
      p.status = Number(lines[0].split(' ')[1]);
      p.headers = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        p.headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      p.length = Number(p.headers['content-length'] ?? 0);
      p.head = true;
      p.chunks = [];
      p.got = 0;
      d = this.buf.subarray(end + 4);
      this.buf = Buffer.alloc(0);
    }
    // Bodies are kept as the chunks that arrived: no copying per viewer.
    const need = p.length - p.got;
    if (d.length > need) {
      this.buf = d.subarray(need);
      d = d.subarray(0, need);
    }
    if (d.length) {
      p.chunks.push(d);
      p.got += d.length;
    }
    if (p.got >= p.length) {
      const doneUs = nowUs();
      this.pending = null;
      const wire = p.got;
      let body = p.keepBody ? Buffer.concat(p.chunks) : null;
      if (body && p.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      p.resolve({ status: p.status, headers: p.headers, body, wire, doneUs, sentUs: p.sentUs });
    }
  }
  async get(target, keepBody = true) {
    if (!this.sock) await this.connect();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, head: false, keepBody, sentUs: nowUs() };
      this.sock.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    });
  }
  close() {
    this.sock?.destroy();
  }
}

const stats = { requests: 0, errors: 0, bytes: 0, delivered: 0, skipped: 0, late: 0 };
const delays = [];
const responseMs = []; // classic: request sent -> last byte, playlists and segments
const perViewer = [];
let measuring = false;
const playlistDir = path.posix.dirname(playlistPath);

function hintOf(text) {
  const m = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part_(\d+)_(\d+)\.m4s/.exec(text);
  return m ? { msn: Number(m[1]), part: Number(m[2]) } : null;
}

/** All parts listed, in order: [{msn, part}]. */
function partsOf(text) {
  const out = [];
  for (const m of text.matchAll(/#EXT-X-PART:[^\n]*URI="part_(\d+)_(\d+)\.m4s"/g)) out.push({ msn: Number(m[1]), part: Number(m[2]) });
  return out;
}

function record(v, res, publishedUs, what) {
  stats.requests++;
  if (res.status !== 200) {
    stats.errors++;
    if (measuring) v.errors++;
    return;
  }
  stats.bytes += res.wire;
  if (!measuring || !publishedUs) return;
  const ms = (res.doneUs - publishedUs) / 1000;
  delays.push(ms);
  stats.delivered++;
  v.count++;
  if (ms > v.worst) v.worst = ms;
  if (ms > boundMs) stats.late++;
}

async function llViewer(v, deadline) {
  const pl = new Conn();
  const parts = new Conn();
  try {
    let res = await pl.get(playlistPath);
    stats.requests++;
    let hint = hintOf(res.body.toString());
    while (nowUs() / 1000 < deadline && hint) {
      const partTarget = `${playlistDir}/part_${hint.msn}_${hint.part}.m4s`;
      const [p, r] = await Promise.all([
        parts.get(partTarget, false),
        pl.get(`${playlistPath}?_HLS_msn=${hint.msn}&_HLS_part=${hint.part}&_HLS_skip=YES`),
      ]);
      record(v, p, Number(p.headers['x-edgestream-published-us'] ?? 0), 'part');
      stats.requests++;
      if (r.status !== 200) {
        stats.errors++;
        if (measuring) v.errors++;
        await sleep(100);
        continue;
      }
      const text = r.body.toString();
      const next = hintOf(text);
      if (!next) break;
      // Parts listed after the one just fetched and before the new hint were missed:
      // fetch them as a player would (they count as late).
      const listed = partsOf(text);
      const at = listed.findIndex((x) => x.msn === hint.msn && x.part === hint.part);
      for (const x of at >= 0 ? listed.slice(at + 1) : []) {
        if (measuring) {
          v.skipped++;
          stats.skipped++;
        }
        const q = await parts.get(`${playlistDir}/part_${x.msn}_${x.part}.m4s`, false);
        record(v, q, Number(q.headers['x-edgestream-published-us'] ?? 0), 'part');
      }
      hint = next;
    }
  } catch (e) {
    stats.errors++;
    if (measuring) v.errors++;
    v.failure = String(e.message ?? e);
  } finally {
    pl.close();
    parts.close();
  }
}

async function classicViewer(v, deadline) {
  const conn = new Conn();
  const seen = new Set();
  let first = true;
  await sleep(Math.random() * 1000);
  try {
    while (nowUs() / 1000 < deadline) {
      const t0 = Date.now();
      const r = await conn.get(playlistPath);
      stats.requests++;
      if (measuring) responseMs.push((r.doneUs - r.sentUs) / 1000);
      if (r.status !== 200) {
        stats.errors++;
        if (measuring) v.errors++;
      } else {
        const text = r.body.toString();
        const td = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1] ?? 1);
        const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
        const fresh = uris.filter((u) => !seen.has(u));
        // A player joins at the newest segments; later it takes every new one.
        for (const u of first ? fresh.slice(-1) : fresh) {
          const s = await conn.get(`${playlistDir}/${u}`, false);
          let published = Number(s.headers['x-edgestream-published-us'] ?? 0);
          if (!published && dir) {
            try {
              published = fs.statSync(path.join(dir, u)).mtimeMs * 1000;
            } catch {
              published = 0;
            }
          }
          record(v, s, published, 'segment');
          if (measuring) responseMs.push((s.doneUs - s.sentUs) / 1000);
        }
        for (const u of uris) seen.add(u);
        first = false;
        await sleep(Math.max(0, td * 1000 - (Date.now() - t0)));
        continue;
      }
      await sleep(500);
    }
  } catch (e) {
    stats.errors++;
    if (measuring) v.errors++;
    v.failure = String(e.message ?? e);
  } finally {
    conn.close();
  }
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};

const workers = Number(arg('workers', '1'));
const raw = process.argv.includes('--raw');

async function runViewers(count) {
  const cpu0 = process.cpuUsage();
  const tStart = Date.now();
  const deadline = tStart + rampMs + (warmup + seconds) * 1000;
  const runs = [];
  for (let i = 0; i < count; i++) {
    const v = { count: 0, worst: 0, errors: 0, skipped: 0, failure: null };
    perViewer.push(v);
    runs.push(
      sleep((rampMs * i) / Math.max(1, count)).then(() => (mode === 'll' ? llViewer(v, deadline) : classicViewer(v, deadline))),
    );
  }
  setTimeout(() => {
    measuring = true;
  }, rampMs + warmup * 1000);
  const hardStop = setTimeout(() => process.exit(3), (rampMs / 1000 + warmup + seconds + 30) * 1000);
  await Promise.all(runs);
  clearTimeout(hardStop);
  const cpu = process.cpuUsage(cpu0);
  return { delays, responseMs, perViewer, stats, cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: (Date.now() - tStart) / 1000 };
}

function summary(parts) {
  const all = parts.flatMap((x) => x.delays);
  const resp = parts.flatMap((x) => x.responseMs);
  const vs = parts.flatMap((x) => x.perViewer);
  const sum = (k) => parts.reduce((a, x) => a + x.stats[k], 0);
  const wall = Math.max(...parts.map((x) => x.wall_s));
  const held = vs.filter((v) => v.count > 0 && v.errors === 0 && v.skipped === 0 && v.worst <= boundMs).length;
  return {
    mode,
    base: base.href,
    playlist: playlistPath,
    viewers: vs.length,
    workers: parts.length,
    seconds,
    bound_ms: boundMs,
    held,
    delivered: sum('delivered'),
    late: sum('late'),
    skipped: sum('skipped'),
    errors: sum('errors'),
    requests: sum('requests'),
    requests_per_s: Math.round(sum('requests') / wall),
    mbit_per_s: Math.round((sum('bytes') * 8) / wall / 1e6),
    delay_ms: { p50: pct(all, 50), p95: pct(all, 95), p99: pct(all, 99), max: pct(all, 100) },
    response_ms: { p50: pct(resp, 50), p95: pct(resp, 95), p99: pct(resp, 99), max: pct(resp, 100) },
    client_cpu_s: Math.round(parts.reduce((a, x) => a + x.cpu_s, 0) * 10) / 10,
    wall_s: Math.round(wall * 10) / 10,
    failures: [...new Set(vs.map((v) => v.failure).filter(Boolean))].slice(0, 5),
  };
}

if (workers > 1 && !raw) {
  // Viewers split over several processes (the load generator must not be the bottleneck).
  const { spawn } = await import('node:child_process');
  const per = Math.ceil(viewers / workers);
  const outs = await Promise.all(
    [...Array(workers).keys()].map(
      (i) =>
        new Promise((resolve) => {
          const n = Math.min(per, viewers - i * per);
          const args = process.argv.slice(2).filter((a, k, all) => !['--viewers', '--workers'].includes(a) && !['--viewers', '--workers'].includes(all[k - 1]));
          const child = spawn(process.execPath, [process.argv[1], ...args, '--viewers', String(n), '--raw'], { stdio: ['ignore', 'pipe', 'inherit'] });
          let text = '';
          child.stdout.on('data', (d) => (text += d));
          child.on('close', () => resolve(JSON.parse(text)));
        }),
    ),
  );
  console.log(JSON.stringify(summary(outs)));
} else {
  const result = await runViewers(viewers);
  console.log(JSON.stringify(raw ? result : summary([result])));
}
