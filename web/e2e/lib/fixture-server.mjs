// TEST FIXTURE standing in for the edgestream origin (issue 4) until it lands.
//
// A tiny node http server on 127.0.0.1 that serves:
//   /                  the built web app (web/dist)
//   /harness/*         the e2e test pages (web/e2e/out/harness)
//   /live/<cam>/*      each test camera's ffmpeg output directory
//   /api/cameras       the camera list, following the /api/cameras contract in docs/web.md
// It is NOT the origin: no LL-HLS, no blocking reload, no caching rules beyond the basics.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
};

/** Serve a file under root; refuse anything that resolves outside it. */
function serveFile(res, root, rel, extraHeaders = {}) {
  const target = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  if (!target.startsWith(path.resolve(root) + path.sep) && target !== path.resolve(root)) {
    res.writeHead(403).end();
    return;
  }
  fs.readFile(target, (err, data) => {
    if (err) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream',
      'content-length': data.length,
      ...extraHeaders,
    });
    res.end(data);
  });
}

/**
 * @param {{distDir: string, harnessDir?: string,
 *          cameras: Array<{id: string, name: string, profile: string, dir: string, active?: boolean}>,
 *          supabase?: {anonKey: string, queries: Array<object>}}} o
 *   With `supabase`, the server also answers /config.json (pointing the app at itself) and
 *   GET /rest/v1/cameras like Supabase's PostgREST would, for the Supabase mode of the app.
 */
export function startFixtureServer(o) {
  const cams = new Map(o.cameras.map((c) => [c.id, c]));
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    requests.push(p);
    if (requests.length > 2000) requests.splice(0, 1000);
    if (o.supabase && p === '/config.json') {
      // Runtime config pointing the dashboard at a "Supabase" (this server).
      const body = JSON.stringify({ supabaseUrl: `http://127.0.0.1:${server.address().port}`, supabaseAnonKey: o.supabase.anonKey });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (o.supabase && p === '/rest/v1/cameras') {
      // Just enough PostgREST for the dashboard's query: the `cameras` table's rows, with
      // the anon key required and is_active=eq.true honoured (RLS does that in Supabase).
      o.supabase.queries.push({ search: url.search, apikey: req.headers.apikey ?? null, auth: req.headers.authorization ?? null });
      if (req.headers.apikey !== o.supabase.anonKey) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Invalid API key"}');
        return;
      }
      const onlyActive = url.searchParams.get('is_active') === 'eq.true';
      const rows = o.cameras
        .map((c, i) => ({
          id: i + 1,
          camera_key: c.id,
          name: c.name,
          stream_url: `/live/${c.id}/stream.m3u8`,
          location_id: 1,
          status: 'active',
          is_active: c.active !== false,
          profile: c.profile,
        }))
        .filter((r) => !onlyActive || r.is_active)
        .sort((a, b) => a.name.localeCompare(b.name));
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(rows));
      return;
    }
    if (p === '/api/cameras') {
      const now = Date.now();
      const list = o.cameras.map((c) => {
        let mtime = null;
        try {
          mtime = fs.statSync(path.join(c.dir, 'stream.m3u8')).mtimeMs;
        } catch {
          /* missing */
        }
        const fresh = mtime !== null && now - mtime < 3000;
        return {
          id: c.id,
          name: c.name,
          status: fresh ? 'live' : mtime === null ? 'connecting' : 'offline',
          playlist_url: `/live/${c.id}/stream.m3u8`,
          profile: c.profile,
          hls: {},
          last_segment_time: mtime === null ? null : new Date(mtime).toISOString(),
          latency: { segment_ms: mtime === null ? null : Math.round(now - mtime) },
        };
      });
      const body = JSON.stringify({ cameras: list });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    const m = /^\/live\/([^/]+)\/(.+)$/.exec(p);
    if (m) {
      const cam = cams.get(m[1]);
      if (!cam) {
        res.writeHead(404).end();
        return;
      }
      const isPlaylist = m[2].endsWith('.m3u8');
      serveFile(res, cam.dir, m[2], {
        'cache-control': isPlaylist ? 'no-cache' : 'public, max-age=60, immutable',
        'access-control-allow-origin': '*',
      });
      return;
    }
    if (p.startsWith('/harness/') && o.harnessDir) {
      serveFile(res, o.harnessDir, p.slice('/harness/'.length));
      return;
    }
    serveFile(res, o.distDir, p === '/' ? 'index.html' : p.slice(1), { 'cache-control': 'no-cache' });
  });
  server.keepAliveTimeout = 2000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}
