// TEST STAND-IN for Supabase's PostgREST endpoint `GET /rest/v1/cameras`, used only by the
// Supabase-mode dashboard test.  Supabase (PostgREST + PostgreSQL + its gateway) cannot run
// on this machine; everything else in that test is real: the dashboard page and its
// config.json are served by the edgestream origin, the app talks to this server through
// @supabase/supabase-js across origins (CORS preflight included, as with a real project),
// and every row's `stream_url` is an absolute URL of the REAL origin's playlist, so the
// tiles play from the daemon.
//
// What it does: listens on 127.0.0.1 (its own port); answers OPTIONS preflights; answers
// GET/HEAD /rest/v1/cameras with the rows it was given, as JSON, after checking that the
// `apikey` header equals the anon key; applies `col=eq.value` filters (e.g.
// is_active=eq.true, location_id=eq.1) and `order=col.asc|desc`; records every query.
//
// What it does NOT cover (each is somewhere else or nowhere):
//   - the `cameras` table, its migration, constraints and row-level security: the rows are
//     a fixed in-memory list here; `is_active=eq.true` filtering stands in for RLS.  The
//     real SQL and RLS are tested by `npm run test:db` (supabase/tests/test_migration.sh,
//     PostgreSQL 15);
//   - JWT verification, roles (anon / authenticated / service_role), the Authorization
//     header (only `apikey` is compared, as a plain string), Supabase Auth and the API
//     gateway (Kong): nowhere;
//   - PostgREST's query language beyond `eq.` filters and `order=`: `select=` is recorded
//     but not applied (all columns are returned), other operators, `limit`/`offset`, Range
//     and `Prefer: count` headers, embedding, RPC, writes (anything but GET/HEAD/OPTIONS is
//     405): nowhere;
//   - PostgREST's exact error bodies and headers (Content-Range, Content-Profile): nowhere;
//   - Realtime, Storage (the playlists come from the edgestream origin, not a bucket):
//     nowhere in this test (Storage uploads: tests/integration with the emulator).

import http from 'node:http';

/**
 * @param {{anonKey: string, rows: Array<Record<string, unknown>>}} o
 * @returns {Promise<{url: string, queries: Array<{search: string, apikey: string|null, auth: string|null}>, close(): Promise<void>}>}
 */
export function startPostgrestStandin(o) {
  const queries = [];
  const cors = (req) => ({
    'access-control-allow-origin': req.headers.origin ?? '*',
    vary: 'Origin',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'apikey, authorization, content-type',
    'access-control-max-age': '60',
  });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors(req)).end();
      return;
    }
    const json = (status, body) => {
      const s = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s), ...cors(req) });
      res.end(req.method === 'HEAD' ? undefined : s);
    };
    if (url.pathname !== '/rest/v1/cameras') {
      json(404, { message: `stand-in: only /rest/v1/cameras exists, not ${url.pathname}` });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { message: 'stand-in: read-only' });
      return;
    }
    queries.push({ search: url.search, apikey: req.headers.apikey ?? null, auth: req.headers.authorization ?? null });
    if (req.headers.apikey !== o.anonKey) {
      json(401, { message: 'Invalid API key' });
      return;
    }
    let rows = o.rows.map((r) => ({ ...r }));
    for (const [k, v] of url.searchParams) {
      if (k === 'select') continue;
      if (k === 'order') {
        const [col, dir = 'asc'] = v.split('.');
        rows.sort((a, b) => String(a[col]).localeCompare(String(b[col])) * (dir === 'desc' ? -1 : 1));
        continue;
      }
      if (!v.startsWith('eq.')) {
        json(400, { message: `stand-in: only eq. filters are supported, got ${k}=${v}` });
        return;
      }
      const want = v.slice(3);
      rows = rows.filter((r) => String(r[k]) === want);
    }
    json(200, rows);
  });
  server.keepAliveTimeout = 2000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        queries,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}
