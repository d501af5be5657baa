// A test camera: Debian's ffmpeg generating a live HLS stream (test pattern + tone) into a
// directory, with EXT-X-PROGRAM-DATE-TIME from the wall clock.  Stands in for edgestream's
// pipeline; the player does not care who wrote the playlist.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function haveFfmpeg() {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
  return r.status === 0;
}

export class TestCamera {
  /** @param {{id: string, dir: string, segment?: number, size?: string, fps?: number, label?: string}} o */
  constructor(o) {
    this.id = o.id;
    this.dir = o.dir;
    this.segment = o.segment ?? 1;
    this.size = o.size ?? '640x360';
    this.fps = o.fps ?? 15;
    this.proc = null;
    this.log = [];
    fs.mkdirSync(this.dir, { recursive: true });
  }

  get playlist() {
    return path.join(this.dir, 'stream.m3u8');
  }

  start() {
    if (this.proc) return;
    const args = [
      '-hide_banner', '-loglevel', 'warning', '-nostdin',
      '-re', '-f', 'lavfi', '-i', `testsrc2=size=${this.size}:rate=${this.fps}`,
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
      '-g', String(this.fps * this.segment), '-keyint_min', String(this.fps * this.segment), '-sc_threshold', '0',
      '-c:a', 'aac', '-b:a', '64k',
      '-f', 'hls', '-hls_time', String(this.segment), '-hls_list_size', '6',
      // append_list: a restarted camera continues the media sequence, as the edgestream
      // origin does (it never resets it).
      '-hls_flags', 'delete_segments+program_date_time+append_list+independent_segments',
      '-hls_segment_filename', path.join(this.dir, 'seg_%06d.ts'),
      this.playlist,
    ];
    this.proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr.on('data', (d) => {
      this.log.push(String(d));
      if (this.log.length > 50) this.log.shift();
    });
    const p = this.proc;
    p.on('exit', () => {
      if (this.proc === p) this.proc = null;
    });
  }

  /** Kill the camera (SIGKILL: no goodbye, the playlist just stops advancing). */
  async kill() {
    const p = this.proc;
    if (!p) return;
    this.proc = null;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Wait until the playlist has at least n segments. */
  async waitReady(n = 3, timeoutMs = 20000) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      try {
        const t = fs.readFileSync(this.playlist, 'utf8');
        if ((t.match(/#EXTINF/g) ?? []).length >= n) return;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`camera ${this.id}: no playlist after ${timeoutMs} ms; ffmpeg said: ${this.log.join('')}`);
  }
}
