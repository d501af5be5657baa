// The real system under test: the edgestream daemon (build/edgestream) with its HTTP origin,
// fed by es-testcam RTSP cameras (build/tests/es-testcam, gst-rtsp-server).  The Node
// counterpart of tests/integration/harness.py + origin_harness.py:
//   - findBinaries(): ES_BINARY / ES_TESTCAM (CTest sets both), else ../build/...; a missing
//     binary is an error, never a skip;
//   - TestCam: one es-testcam, started with --port 0 (the port comes from its `ready` line
//     and is kept, so a restart lands on the SAME port and the daemon's reconnect loop finds
//     it), killed by PID;
//   - Daemon: writes a mapping-form cameras.yaml (storage: [], origin on 127.0.0.1:0), starts
//     edgestream --config … --all --quiet, reads the origin's URL from its
//     `origin event=listening url=…` log line, stops it with SIGTERM (SIGKILL after 10 s);
//   - makeWebRoot(): the directory given as origin.web_root: a copy of web/dist, plus the
//     e2e pages under harness/ (the origin opens files with O_NOFOLLOW: copies, not links);
//   - killAllStarted(): SIGKILL, by PID, of every process started here that still runs (the
//     last resort on any exit path).
// Every process binds 127.0.0.1 only.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every child started here and not yet reaped. */
const live = new Set();

function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

/** Synchronous last resort (safe in process.on('exit')): SIGKILL every child still running. */
export function killAllStarted() {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function isExecutable(f) {
  try {
    fs.accessSync(f, fs.constants.X_OK);
    return fs.statSync(f).isFile() && fs.statSync(f).size > 0;
  } catch {
    return false;
  }
}

/**
 * The daemon and test camera binaries. Throws with what was tried and how to build them.
 * @param {string} sourceDir the repository root
 */
export function findBinaries(sourceDir) {
  const pick = (env, candidates, target) => {
    const v = process.env[env];
    if (v) {
      if (!isExecutable(v)) throw new Error(`${env}=${v} is not an executable file (build the \`${target}\` target)`);
      return v;
    }
    for (const c of candidates) if (isExecutable(c)) return c;
    throw new Error(
      `${target} not found (tried ${candidates.join(', ')}; set ${env} or build it: ` +
        '`cmake -S . -B build && cmake --build build -j2`, or `make build`)',
    );
  };
  return {
    edgestream: pick('ES_BINARY', [path.join(sourceDir, 'build', 'edgestream')], 'edgestream'),
    testcam: pick(
      'ES_TESTCAM',
      [path.join(sourceDir, 'build', 'tests', 'es-testcam'), path.join(sourceDir, 'build', 'es-testcam')],
      'es-testcam',
    ),
  };
}

/** Appends a process's output to a log file, and keeps it in memory for waiting on lines. */
class LogSink {
  constructor(file) {
    this.file = file;
    this.text = '';
    this.waiters = [];
  }

  write(chunk) {
    const s = String(chunk);
    fs.appendFileSync(this.file, s);
    this.text += s;
    if (this.text.length > 4_000_000) this.text = this.text.slice(-2_000_000);
    for (const w of [...this.waiters]) w();
  }

  note(line) {
    this.write(`--- ${new Date().toISOString()} ${line}\n`);
  }

  tail(lines = 40) {
    return this.text.split('\n').slice(-lines - 1).join('\n');
  }
}

/** Waits for `rx` in what `sink` received, for `proc` to exit first, or for the timeout. */
function waitForLine(sink, rx, proc, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let timer = null;
    const done = (fn, v) => {
      clearTimeout(timer);
      sink.waiters = sink.waiters.filter((w) => w !== check);
      proc.off('exit', onExit);
      fn(v);
    };
    const check = () => {
      const m = rx.exec(sink.text);
      if (m) done(resolve, m);
    };
    const onExit = (code, signal) =>
      done(reject, new Error(`${what}: the process exited (${signal ?? `status ${code}`}) first; its log ends:\n${sink.tail(20)}`));
    timer = setTimeout(() => done(reject, new Error(`${what}: nothing after ${timeoutMs} ms; log ends:\n${sink.tail(20)}`)), timeoutMs);
    sink.waiters.push(check);
    proc.once('exit', onExit);
    check();
  });
}

/** Sends `signal` to proc (by PID) and waits up to timeoutMs, then SIGKILL. Resolves {code, signal}. */
async function stopProcess(proc, signal, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode, signal: proc.signalCode, forced: false };
  const exited = new Promise((r) => proc.once('exit', (code, sig) => r({ code, signal: sig })));
  try {
    process.kill(proc.pid, signal);
  } catch {
    /* gone meanwhile */
  }
  let forced = false;
  const t = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
  if (t) return { ...t, forced };
  forced = true;
  try {
    process.kill(proc.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  return { ...(await exited), forced };
}

export class TestCam {
  /** @param {{binary: string, label: string, logDir: string, width?: number, height?: number, fps?: number}} o */
  constructor(o) {
    this.binary = o.binary;
    this.label = o.label;
    this.args = ['--width', String(o.width ?? 854), '--height', String(o.height ?? 480), '--fps', String(o.fps ?? 15)];
    this.port = 0;
    this.url = null;
    this.proc = null;
    this.starts = 0;
    this.log = new LogSink(path.join(o.logDir, `${o.label}.log`));
  }

  get pid() {
    return this.proc ? this.proc.pid : null;
  }

  /** Starts it (on the port of the previous run, if any); resolves the rtsp:// URL. */
  async start(timeoutMs = 15000) {
    if (this.proc) throw new Error(`${this.label} already running (pid ${this.proc.pid})`);
    const deadline = Date.now() + timeoutMs;
    let lastErr = null;
    // Right after a kill the port can still be held for a moment: retry until it binds.
    while (Date.now() < deadline) {
      try {
        return await this.#startOnce(deadline - Date.now());
      } catch (err) {
        lastErr = err;
        if (!err.retry) break;
        await sleep(200);
      }
    }
    throw new Error(`${this.label} did not start: ${lastErr?.message ?? 'timeout'}`);
  }

  async #startOnce(timeoutMs) {
    const args = ['--port', String(this.port), '--path', '/cam1', '--bind', '127.0.0.1', ...this.args];
    this.log.note(`start: ${this.binary} ${args.join(' ')}`);
    const proc = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc);
    const out = new LogSink(path.join(path.dirname(this.log.file), `${this.label}.stdout`));
    proc.stdout.on('data', (d) => out.write(d));
    proc.stderr.on('data', (d) => this.log.write(d));
    let m;
    try {
      m = await waitForLine(out, /^ready (rtsp:\/\/127\.0\.0\.1:(\d+)\/\S*)\n/m, proc, Math.max(timeoutMs, 1000), `${this.label} ready line`);
    } catch (err) {
      const exitedEarly = proc.exitCode !== null;
      await stopProcess(proc, 'SIGKILL', 5000);
      if (exitedEarly) err.retry = true; // most likely: the port is still taken
      throw err;
    }
    this.proc = proc;
    this.url = m[1];
    this.port = Number(m[2]);
    this.starts += 1;
    this.log.note(`ready pid=${proc.pid} ${this.url}`);
    return this.url;
  }

  /** Stops it by PID. SIGKILL (the default) is a camera that just dies: no RTSP TEARDOWN. */
  async kill(signal = 'SIGKILL') {
    const p = this.proc;
    if (!p) return null;
    this.proc = null;
    const r = await stopProcess(p, signal, 5000);
    this.log.note(`stopped with ${signal}: ${JSON.stringify(r)}`);
    return r;
  }
}

/**
 * A UDP port on 127.0.0.1 that is free right now (the kernel picks it), for
 * origin.webrtc.udp_port: its default 8189 may be held by another daemon on this machine.
 */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

function yamlString(s) {
  return JSON.stringify(String(s)); // a JSON string is a valid YAML double-quoted scalar
}

export class Daemon {
  /**
   * @param {{binary: string, workDir: string, webRoot: string, token?: string,
   *          cameras: Array<{id: string, name: string, url: string, profile: string}>}} o
   */
  constructor(o) {
    this.binary = o.binary;
    this.workDir = o.workDir;
    this.webRoot = o.webRoot;
    this.cameras = o.cameras;
    this.token = o.token ?? null; // origin.token: /api/ and /live/ want it
    this.webrtcPort = null; // origin.webrtc.udp_port, chosen free at start()
    this.configPath = path.join(o.workDir, 'cameras.yaml');
    this.log = new LogSink(path.join(o.workDir, 'edgestream.stderr'));
    this.proc = null;
    this.url = null;
    this.exit = null;
  }

  writeConfig() {
    const lines = [
      '# written by web/e2e/lib/edgestream.mjs',
      'log_level: info',
      'storage: []', // the origin alone: nothing written to disk
      'origin:',
      '  listen: "127.0.0.1:0"',
      `  web_root: ${yamlString(this.webRoot)}`,
      ...(this.token ? [`  token: ${yamlString(this.token)}`] : []),
      '  webrtc:',
      `    udp_port: ${this.webrtcPort}`,
      'cameras:',
    ];
    for (const c of this.cameras) {
      lines.push(`  - id: ${yamlString(c.id)}`, `    name: ${yamlString(c.name)}`, `    rtsp_url: ${yamlString(c.url)}`);
      lines.push('    settings:', `      profile: ${yamlString(c.profile)}`);
    }
    fs.writeFileSync(this.configPath, lines.join('\n') + '\n');
  }

  /** Starts the daemon; resolves the origin's base URL (with a trailing slash). */
  async start(timeoutMs = 15000) {
    this.webrtcPort = await freeUdpPort();
    this.writeConfig();
    const args = ['--config', this.configPath, '--all', '--quiet'];
    this.log.note(`start: ${this.binary} ${args.join(' ')}`);
    const proc = spawn(this.binary, args, { cwd: this.workDir, stdio: ['ignore', 'ignore', 'pipe'] });
    track(proc);
    this.proc = proc;
    proc.stderr.on('data', (d) => this.log.write(d));
    proc.once('exit', (code, signal) => {
      this.exit = { code, signal };
      this.log.note(`exited: ${signal ?? `status ${code}`}`);
    });
    const m = await waitForLine(this.log, /origin event=listening url=(http:\/\/127\.0\.0\.1:\d+\/)/, proc, timeoutMs, "the origin's listening line");
    this.url = m[1];
    return this.url;
  }

  alive() {
    return !!this.proc && this.exit === null;
  }

  /** ERROR lines, and sanitizer reports, logged so far. */
  errorLines() {
    return this.log.text.split('\n').filter((l) => / ERROR /.test(l) || /Sanitizer|runtime error:/.test(l));
  }

  /** Waits until the origin lists a complete segment (and, for LL, a part) of camera id. */
  async waitPlaylist(id, { parts = false, timeoutMs = 30000 } = {}) {
    const url = `${this.url}live/${id}/stream.m3u8${this.token ? `?token=${encodeURIComponent(this.token)}` : ''}`;
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      if (!this.alive()) throw new Error(`edgestream exited (${JSON.stringify(this.exit)}); log ends:\n${this.log.tail(20)}`);
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
        last = `${r.status}`;
        if (r.ok) {
          const t = await r.text();
          if ((t.match(/#EXTINF/g) ?? []).length >= 2 && (!parts || t.includes('#EXT-X-PART:'))) return t;
        }
      } catch (err) {
        last = String(err.message ?? err);
      }
      await sleep(250);
    }
    throw new Error(`no playlist for ${id} at ${url} after ${timeoutMs} ms (last: ${last}); edgestream log ends:\n${this.log.tail(20)}`);
  }

  /** SIGTERM, SIGKILL after timeoutMs. Resolves {code, signal, forced}. */
  async stop(timeoutMs = 10000) {
    if (!this.proc) return null;
    const r = await stopProcess(this.proc, 'SIGTERM', timeoutMs);
    return r;
  }
}

/**
 * The origin's web_root for the run: web/dist at /, the e2e pages at /harness/, and, for
 * every name in `copiesOfDist`, another copy of web/dist under that name (a page with its
 * own config.json next to it).
 */
export function makeWebRoot(dir, { distDir, harnessDir, copiesOfDist = [] }) {
  fs.mkdirSync(dir, { recursive: true });
  const noMaps = (src) => !src.endsWith('.map');
  fs.cpSync(distDir, dir, { recursive: true, filter: noMaps, dereference: true });
  fs.cpSync(harnessDir, path.join(dir, 'harness'), { recursive: true, filter: noMaps, dereference: true });
  for (const name of copiesOfDist) fs.cpSync(distDir, path.join(dir, name), { recursive: true, filter: noMaps, dereference: true });
  return dir;
}
