#!/usr/bin/env node
// LL-HLS conformance checker for the edgestream origin, on live output.
//
//   node tests/conformance/check.mjs --base http://127.0.0.1:PORT/ --ll cam_ll \
//        [--classic cam_classic] [--seconds 20] [--token T]
//
// It behaves like an LL-HLS client (blocking reloads for the next part, delta updates,
// preload-hint part requests) for --seconds, keeps every playlist version it received, and
// checks each one and each pair of consecutive versions against the rules of RFC 8216 and
// draft-pantos-hls-rfc8216bis-16 that an origin must follow (the list is in
// ../shared/reference/hls-rules.md and docs/origin.md). Every playlist text is also parsed
// by hls-parser in strict mode. The classic camera's playlist gets the RFC 8216 checks.
//
// Prints one JSON object (counts, measured numbers, problems) and exits 1 on any problem.
// Network: the given base URL only (127.0.0.1 in the tests).

import HLS from 'hls-parser';
import zlib from 'node:zlib';

HLS.setOptions({ strictMode: true, silent: true });

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const base = arg('base', 'http://127.0.0.1:8080/');
const llCam = arg('ll', 'cam_ll');
const classicCam = arg('classic', '');
const seconds = Number(arg('seconds', '20'));
const token = arg('token', '');
// Playlist versions per second the client must see at least (5/s with 0.2 s parts; lower
// for sanitizer builds, which transcode slower).
const minRate = Number(arg('min-rate', '2'));

const problems = [];
const problem = (msg) => {
  if (problems.length < 200) problems.push(msg);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
};

function url(cam, name, query = '') {
  const q = new URLSearchParams(query);
  if (token) q.set('token', token);
  const qs = q.toString();
  return new URL(`live/${cam}/${name}${qs ? `?${qs}` : ''}`, base).href;
}

async function get(u, headers = {}) {
  const t0 = now();
  const res = await fetch(u, { headers, cache: 'no-store' });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, ms: now() - t0 };
}

// ---- playlists ---------------------------------------------------------------------------

/** Our own reading of a media playlist: enough structure for the cross-version rules. */
function readPlaylist(text) {
  const pl = { tags: {}, segments: [], hints: [], skipped: 0, version: null };
  let cur = null;
  const fresh = () => ({ msn: null, uri: null, duration: null, pdt: null, discontinuity: false, map: null, parts: [] });
  let msn = null;
  let map = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (!cur) cur = fresh();
    const colon = line.indexOf(':');
    const tag = line.startsWith('#') ? (colon > 0 ? line.slice(1, colon) : line.slice(1)) : null;
    const value = colon > 0 ? line.slice(colon + 1) : '';
    const attrs = () => Object.fromEntries([...value.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)].map((m) => [m[1], m[2].replace(/^"|"$/g, '')]));
    if (tag === 'EXT-X-VERSION') pl.version = Number(value);
    else if (tag === 'EXT-X-TARGETDURATION') pl.tags.td = Number(value);
    else if (tag === 'EXT-X-MEDIA-SEQUENCE') msn = pl.tags.msn = Number(value);
    else if (tag === 'EXT-X-DISCONTINUITY-SEQUENCE') pl.tags.dseq = Number(value);
    else if (tag === 'EXT-X-PART-INF') pl.tags.partTarget = Number(attrs()['PART-TARGET']);
    else if (tag === 'EXT-X-SERVER-CONTROL') pl.tags.server = attrs();
    else if (tag === 'EXT-X-SKIP') {
      pl.skipped = Number(attrs()['SKIPPED-SEGMENTS']);
      msn += pl.skipped;
    } else if (tag === 'EXT-X-MAP') map = attrs().URI;
    else if (tag === 'EXT-X-DISCONTINUITY') cur.discontinuity = true;
    else if (tag === 'EXT-X-PROGRAM-DATE-TIME') cur.pdt = Date.parse(value);
    else if (tag === 'EXT-X-PART') {
      const a = attrs();
      cur.parts.push({ uri: a.URI, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES' });
    } else if (tag === 'EXT-X-PRELOAD-HINT') pl.hints.push(attrs());
    else if (tag === 'EXTINF') cur.duration = Number(value.split(',')[0]);
    else if (!line.startsWith('#')) {
      cur.uri = line;
      cur.msn = msn++;
      cur.map = map;
      pl.segments.push(cur);
      cur = null;
    }
  }
  if (cur && cur.parts.length) {
    cur.msn = msn;
    cur.map = map;
    cur.open = true;
    pl.segments.push(cur);
  }
  pl.tags.dseq ??= 0;
  pl.complete = pl.segments.filter((s) => !s.open);
  pl.text = text;
  return pl;
}

function strict(text, what) {
  try {
    HLS.parse(text);
    return true;
  } catch (err) {
    problem(`${what}: hls-parser strict mode: ${err.message}`);
    return false;
  }
}

const stripQuery = (u) => (u ? u.replace(/\?.*$/, '') : u);
const partId = (u) => {
  const m = /part_(\d+)_(\d+)\.m4s/.exec(u ?? '');
  return m ? { msn: Number(m[1]), part: Number(m[2]) } : null;
};

/** The newest part a full playlist lists: { msn, part }. */
function lastPart(pl) {
  for (let i = pl.segments.length - 1; i >= 0; i--) {
    const s = pl.segments[i];
    if (s.parts.length) return { msn: s.msn, part: s.parts.length - 1 };
  }
  return null;
}

function containsPart(pl, msn, part) {
  const seg = pl.segments.find((s) => s.msn === msn);
  if (seg && part < seg.parts.length) return true;
  // A part index past the end of a complete segment means part 0 of the next one.
  if (seg && !seg.open && part >= seg.parts.length) {
    const next = pl.segments.find((s) => s.msn === msn + 1);
    return !!(next && next.parts.length);
  }
  return pl.segments.some((s) => s.msn > msn);
}

/** Checks of one LL playlist version on its own. */
function checkLlVersion(pl, what) {
  const { td, partTarget, server } = pl.tags;
  if (!(td >= 1)) problem(`${what}: no EXT-X-TARGETDURATION`);
  if (!(partTarget > 0)) problem(`${what}: no EXT-X-PART-INF PART-TARGET`);
  if (!server || server['CAN-BLOCK-RELOAD'] !== 'YES') problem(`${what}: CAN-BLOCK-RELOAD=YES missing`);
  const phb = Number(server?.['PART-HOLD-BACK']);
  // draft §4.4.3.8: PART-HOLD-BACK MUST be >= 2 x PART-TARGET; SHOULD >= 3 x. We promise 3 x.
  if (!(phb >= 3 * partTarget - 1e-6)) problem(`${what}: PART-HOLD-BACK ${phb} < 3 x PART-TARGET ${partTarget}`);
  const hb = Number(server?.['HOLD-BACK'] ?? 3 * td);
  if (!(hb >= 3 * td - 1e-6)) problem(`${what}: HOLD-BACK ${hb} < 3 x TARGETDURATION`);
  const csu = Number(server?.['CAN-SKIP-UNTIL']);
  if (!(csu >= 6 * td - 1e-6)) problem(`${what}: CAN-SKIP-UNTIL ${csu} < 6 x TARGETDURATION`);
  if (pl.hints.filter((h) => h.TYPE === 'PART').length !== 1) problem(`${what}: expected one EXT-X-PRELOAD-HINT TYPE=PART`);
  let prevPdt = null;
  for (const s of pl.segments) {
    if (!s.map) problem(`${what}: segment ${s.msn} without EXT-X-MAP`);
    if (s.pdt === null || Number.isNaN(s.pdt)) problem(`${what}: segment ${s.msn} without PROGRAM-DATE-TIME`);
    if (prevPdt !== null && s.pdt <= prevPdt) problem(`${what}: PDT of ${s.msn} not after the previous one`);
    prevPdt = s.pdt;
    if (!s.open && Math.round(s.duration) > td) problem(`${what}: EXTINF ${s.duration} of ${s.msn} rounds above TARGETDURATION ${td}`);
    s.parts.forEach((p, i) => {
      const id = partId(p.uri);
      if (!id || id.msn !== s.msn || id.part !== i) problem(`${what}: part ${i} of ${s.msn} is named ${p.uri}`);
      // draft §4.4.4.9: a part MUST be <= PART-TARGET ...
      if (p.duration > partTarget + 1e-9) problem(`${what}: part ${p.uri} ${p.duration} s > PART-TARGET ${partTarget}`);
      // ... and >= 85 % of it, except INDEPENDENT parts and the last part of a segment.
      const last = !s.open && i === s.parts.length - 1;
      const lastListed = s.open && i === s.parts.length - 1;
      if (!last && !lastListed && !p.independent && p.duration < 0.85 * partTarget - 1e-9)
        problem(`${what}: part ${p.uri} ${p.duration} s < 85 % of PART-TARGET`);
    });
    if (s.parts.length && s.parts[0].independent !== true && !s.discontinuity)
      problem(`${what}: first part of ${s.msn} not INDEPENDENT=YES (transcoded segments start with an IDR)`);
    if (!s.open && s.parts.length) {
      const sum = s.parts.reduce((a, p) => a + p.duration, 0);
      if (Math.abs(sum - s.duration) > 0.001 * s.parts.length + 0.0005)
        problem(`${what}: parts of ${s.msn} add up to ${sum.toFixed(5)} s, EXTINF ${s.duration}`);
    }
  }
  // Parts only for the newest segments (draft §6.2.2: not more than 3 target durations back).
  const withParts = pl.segments.filter((s) => s.parts.length);
  const tail = pl.segments.slice(-3);
  for (const s of withParts) if (!tail.includes(s)) problem(`${what}: parts listed for old segment ${s.msn}`);
  // The hint names the part after the newest one.
  const lp = lastPart(pl);
  const hint = partId(pl.hints[0]?.URI);
  if (lp && hint) {
    const lastSeg = pl.segments[pl.segments.length - 1];
    const ok = lastSeg.open ? hint.msn === lp.msn && hint.part === lp.part + 1 : hint.msn === lastSeg.msn + 1 && hint.part === 0;
    if (!ok) problem(`${what}: preload hint ${pl.hints[0].URI} is not the part after ${lp.msn}.${lp.part}`);
  }
}

/** RFC 8216 §6.2.2 between two versions: only appends at the end, removals from the head. */
function checkUpdate(a, b, what, ll) {
  if (b.tags.td !== a.tags.td) problem(`${what}: TARGETDURATION changed ${a.tags.td} -> ${b.tags.td}`);
  if (b.version !== a.version) problem(`${what}: EXT-X-VERSION changed`);
  if (ll && b.tags.partTarget !== a.tags.partTarget) problem(`${what}: PART-TARGET changed`);
  if (b.tags.msn < a.tags.msn) problem(`${what}: MEDIA-SEQUENCE went back ${a.tags.msn} -> ${b.tags.msn}`);
  // DISCONTINUITY-SEQUENCE grows by the DISCONTINUITY tags removed with the head.
  let removedDisc = 0;
  for (const s of a.segments) if (s.msn < b.tags.msn && s.discontinuity) removedDisc++;
  const skippedA = a.skipped;
  if (!skippedA && b.tags.dseq !== a.tags.dseq + removedDisc)
    problem(`${what}: DISCONTINUITY-SEQUENCE ${a.tags.dseq} -> ${b.tags.dseq}, ${removedDisc} removed`);
  const bByMsn = new Map(b.segments.map((s) => [s.msn, s]));
  for (const s of a.segments) {
    const t = bByMsn.get(s.msn);
    if (!t) {
      if (s.msn >= b.tags.msn + b.skipped) problem(`${what}: segment ${s.msn} vanished from the middle or end`);
      continue;
    }
    if (!s.open && (t.open || stripQuery(t.uri) !== stripQuery(s.uri) || t.duration !== s.duration))
      problem(`${what}: segment ${s.msn} changed (${s.uri} ${s.duration} -> ${t.uri} ${t.duration})`);
    if (t.pdt !== s.pdt) problem(`${what}: PDT of ${s.msn} changed`);
    if (t.discontinuity !== s.discontinuity) problem(`${what}: DISCONTINUITY of ${s.msn} changed`);
    if (s.parts.length && t.parts.length) {
      if (t.parts.length < s.parts.length && t.open) problem(`${what}: parts of ${s.msn} went away`);
      for (let i = 0; i < Math.min(s.parts.length, t.parts.length); i++)
        if (stripQuery(s.parts[i].uri) !== stripQuery(t.parts[i].uri) || s.parts[i].duration !== t.parts[i].duration)
          problem(`${what}: part ${i} of ${s.msn} changed`);
    }
  }
  const aLast = a.segments.at(-1)?.msn ?? -1;
  const bLast = b.segments.at(-1)?.msn ?? -1;
  if (bLast < aLast) problem(`${what}: the playlist end went back ${aLast} -> ${bLast}`);
}

function classicChecks(pl, what) {
  const td = pl.tags.td;
  for (const s of pl.segments) {
    if (Math.round(s.duration) > td) problem(`${what}: EXTINF ${s.duration} rounds above ${td}`);
    if (s.pdt === null) problem(`${what}: segment ${s.msn} without PROGRAM-DATE-TIME`);
  }
}

/** A delta playlist plus the older full one gives the full playlist of the same version. */
function reconstruct(older, delta) {
  const byMsn = new Map(older.segments.map((s) => [s.msn, s]));
  const out = [];
  for (let m = delta.tags.msn; m < delta.tags.msn + delta.skipped; m++) {
    const s = byMsn.get(m);
    if (!s) return null;
    out.push(s);
  }
  return [...out, ...delta.segments];
}

function sameSegments(x, y) {
  if (x.length !== y.length) return `${x.length} segments vs ${y.length}`;
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const b = y[i];
    if (a.msn !== b.msn || stripQuery(a.uri) !== stripQuery(b.uri) || a.duration !== b.duration || a.pdt !== b.pdt || a.discontinuity !== b.discontinuity)
      return `segment ${a.msn}/${b.msn} differs`;
  }
  return null;
}

// ---- fMP4 -------------------------------------------------------------------------------

/** Whether the first video sample of a moof/mdat part is a sync sample (trun/tfhd flags). */
function firstVideoSampleIsSync(buf) {
  let off = 0;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (size < 8) return null;
    if (type === 'moof') {
      let t = off + 8;
      while (t + 8 <= off + size) {
        const tsz = buf.readUInt32BE(t);
        if (buf.toString('latin1', t + 4, t + 8) === 'traf') {
          let tfhdDefault = null;
          let trackId = null;
          let b = t + 8;
          while (b + 8 <= t + tsz) {
            const bsz = buf.readUInt32BE(b);
            const bt = buf.toString('latin1', b + 4, b + 8);
            const flags = buf.readUInt32BE(b + 8) & 0xffffff;
            if (bt === 'tfhd') {
              trackId = buf.readUInt32BE(b + 12);
              let p = b + 16;
              if (flags & 0x1) p += 8;
              if (flags & 0x2) p += 4;
              if (flags & 0x8) p += 4;
              if (flags & 0x10) p += 4;
              if (flags & 0x20) tfhdDefault = buf.readUInt32BE(p);
            } else if (bt === 'trun' && trackId === 1) {
              let p = b + 16;
              if (flags & 0x1) p += 4;
              let sampleFlags = tfhdDefault;
              if (flags & 0x4) sampleFlags = buf.readUInt32BE(p);
              else if (flags & 0x400) {
                p += (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0);
                sampleFlags = buf.readUInt32BE(p);
              }
              if (sampleFlags === null) return null;
              return ((sampleFlags >>> 16) & 0x1) === 0; // sample_is_non_sync_sample
            }
            b += bsz;
          }
        }
        t += tsz;
      }
    }
    off += size;
  }
  return null;
}

// ---- the LL client ------------------------------------------------------------------------

const versions = []; // full LL playlists in arrival order
const deltas = [];
const blockingWaits = [];
const hintWaits = [];
const stats = { requests: 0, playlists: 0, delta_checked: 0, delta_raced: 0, parts_fetched: 0, independence_checked: 0, removed_checked: 0, gzip_checked: 0 };
let initChecked = new Set();

function headerProblems(res, what, kind) {
  const ct = res.headers.get('content-type') ?? '';
  const cc = res.headers.get('cache-control') ?? '';
  if (kind === 'playlist') {
    if (!/^application\/vnd\.apple\.mpegurl|^audio\/mpegurl/i.test(ct)) problem(`${what}: Content-Type ${ct}`);
    if (!cc) problem(`${what}: no Cache-Control`);
  } else {
    if (kind === 'ts' ? !/video\/mp2t/.test(ct) : !/video\/mp4/.test(ct)) problem(`${what}: Content-Type ${ct}`);
    if (!/immutable/.test(cc)) problem(`${what}: Cache-Control ${cc} is not immutable`);
  }
}

async function fetchPlaylist(cam, query, what) {
  const res = await get(url(cam, 'stream.m3u8', query));
  stats.requests++;
  if (res.status !== 200) {
    problem(`${what}: status ${res.status}`);
    return null;
  }
  headerProblems(res, what, 'playlist');
  const text = res.body.toString('utf8');
  strict(text, what);
  stats.playlists++;
  return { pl: readPlaylist(text), ms: res.ms, at: Date.now() };
}

async function fetchPart(u, pl, what) {
  const res = await get(new URL(u, url(llCam, 'x')).href);
  stats.requests++;
  if (res.status !== 200) {
    problem(`${what}: ${stripQuery(u)} status ${res.status}`);
    return null;
  }
  headerProblems(res, `${what} ${stripQuery(u)}`, 'mp4');
  stats.parts_fetched++;
  const id = partId(u);
  const seg = pl?.segments.find((s) => s.msn === id?.msn);
  const part = seg?.parts[id.part];
  if (part) {
    const sync = firstVideoSampleIsSync(res.body);
    if (sync !== null) {
      stats.independence_checked++;
      if (sync !== part.independent) problem(`${stripQuery(u)}: INDEPENDENT=${part.independent} but first video sample sync=${sync}`);
    }
  }
  return res;
}

const removalChecks = [];

async function llClient(deadline) {
  let first = await fetchPlaylist(llCam, '', 'll plain');
  if (!first) return;
  versions.push(first);
  let n = 0;
  while (now() < deadline) {
    const cur = versions.at(-1).pl;
    const hint = partId(cur.hints[0]?.URI);
    if (!hint) {
      problem('no preload hint to follow');
      return;
    }
    const useSkip = n % 3 === 2;
    n++;
    // The hinted part, requested at once (held by the origin until it exists) ...
    const tHint = now();
    const hintReq = fetchPart(cur.hints[0].URI, null, 'preload hint').then((r) => {
      if (r) hintWaits.push(now() - tHint);
      return r;
    });
    // ... and the blocking reload for it.
    // With a delta request, the same one without skip at the same moment: both are held
    // for the same part and answered by the same publication, so they show one version
    // (asked one after the other, 0.133 s parts raced it: none compared in 2 of 4 runs).
    const fullReq = useSkip ? fetchPlaylist(llCam, `_HLS_msn=${hint.msn}&_HLS_part=${hint.part}`, 'll full for delta') : null;
    const t0 = now();
    const got = await fetchPlaylist(llCam, `_HLS_msn=${hint.msn}&_HLS_part=${hint.part}${useSkip ? '&_HLS_skip=YES' : ''}`, `ll blocking ${hint.msn}.${hint.part}${useSkip ? ' skip' : ''}`);
    const hintRes = await hintReq;
    const fullRes = fullReq ? await fullReq : null;
    if (!got) continue;
    if (hintRes) {
      const seg = got.pl.segments.find((x) => x.msn === hint.msn);
      const part = seg?.parts[hint.part];
      const sync = firstVideoSampleIsSync(hintRes.body);
      if (part && sync !== null) {
        stats.independence_checked++;
        if (sync !== part.independent) problem(`part ${hint.msn}.${hint.part}: INDEPENDENT=${part.independent} but its first video sample sync=${sync}`);
      }
    }
    blockingWaits.push(now() - t0);
    const { pl } = got;
    if (!containsPart(pl, hint.msn, hint.part)) problem(`blocking reload for ${hint.msn}.${hint.part} answered without that part`);
    if (useSkip) {
      const full = fullRes;
      if (!full) continue;
      deltas.push(pl);
      if (pl.skipped === 0) {
        // Nothing to skip yet (the playlist is still short): it must equal the full one.
      }
      const lpD = lastPart(pl);
      const lpF = lastPart(full.pl);
      if (lpD && lpF && lpD.msn === lpF.msn && lpD.part === lpF.part) {
        const older = versions.at(-1).pl;
        const rebuilt = reconstruct(older, pl);
        if (!rebuilt) problem(`delta at ${hint.msn}.${hint.part}: skipped segments not in the previous playlist`);
        else {
          const diff = sameSegments(rebuilt, full.pl.segments);
          if (diff) problem(`delta at ${hint.msn}.${hint.part} does not rebuild the full playlist: ${diff}`);
          else stats.delta_checked++;
          if (full.pl.tags.msn !== pl.tags.msn) problem('delta playlist MEDIA-SEQUENCE differs from the full one');
        }
      } else stats.delta_raced++;
      versions.push(full);
    } else {
      versions.push(got);
    }
    const latest = versions.at(-1).pl;
    // Init sections and removed segments.
    for (const s of latest.segments) {
      if (s.map && !initChecked.has(s.map)) {
        initChecked.add(s.map);
        const r = await get(new URL(s.map, url(llCam, 'x')).href);
        if (r.status !== 200) problem(`init ${s.map}: status ${r.status}`);
        else headerProblems(r, `init ${stripQuery(s.map)}`, 'mp4');
      }
    }
    const prev = versions.at(-2)?.pl;
    if (prev) {
      for (const s of prev.segments)
        if (!s.open && s.msn < latest.tags.msn) {
          // RFC 8216 §6.2.2: available for the segment's duration plus the playlist's after removal.
          const total = prev.complete.reduce((a, x) => a + x.duration, 0);
          removalChecks.push({ uri: s.uri, due: now() + (s.duration + total - 0.5) * 1000 });
        }
    }
  }
}

async function removalChecker(deadline) {
  while (now() < deadline || removalChecks.some((c) => !c.done)) {
    for (const c of removalChecks) {
      if (c.done || now() < c.due) continue;
      c.done = true;
      if (stats.removed_checked >= 6) continue;
      const r = await get(new URL(c.uri, url(llCam, 'x')).href);
      stats.removed_checked++;
      if (r.status !== 200) problem(`removed segment ${stripQuery(c.uri)} gone within the RFC grace period (status ${r.status})`);
    }
    if (now() > deadline + 20000) break;
    await sleep(100);
  }
}

async function errorProbes() {
  // Relative to the origin's current playlist, not to the last one we kept.
  const fresh = await fetchPlaylist(llCam, '', 'll plain (probes)');
  const cur = fresh ? fresh.pl : versions.at(-1).pl;
  const lp = lastPart(cur);
  const lastMsn = cur.segments.at(-1).msn;
  const pt = cur.tags.partTarget;
  const limit = pt < 1 ? Math.ceil(3 / pt) : 3;
  const expect = async (query, status, what) => {
    const r = await get(url(llCam, 'stream.m3u8', query));
    if (r.status !== status) problem(`${what} (${query}): status ${r.status}, expected ${status}`);
    return r;
  };
  // draft §6.2.5.2
  await expect(`_HLS_part=${lp.part}`, 400, '_HLS_part without _HLS_msn');
  await expect(`_HLS_msn=${lastMsn + 3}`, 400, '_HLS_msn more than two past the last segment');
  // Even if a part or two appears meanwhile, part limit + 6 of the next segment stays beyond.
  await expect(`_HLS_msn=${lastMsn + 1}&_HLS_part=${limit + 6}`, 400, '_HLS_part beyond the Advance Part Limit');
  await expect(`_HLS_msn=${lastMsn}&_HLS_part=4294967295`, 400, 'huge _HLS_part');
  await expect('_HLS_msn=18446744073709551615', 400, 'huge _HLS_msn');
  // Index past the end of a complete segment: answered once part 0 of the next exists.
  const complete = cur.complete.at(-1);
  const r = await expect(`_HLS_msn=${complete.msn}&_HLS_part=${complete.parts.length || 5}`, 200, 'part index past a complete segment');
  if (r.status === 200 && !containsPart(readPlaylist(r.body.toString()), complete.msn + 1, 0)) problem('part index past the end did not mean part 0 of the next segment');
  // _HLS_msn alone: held until that segment is complete.
  const open = cur.segments.at(-1);
  const t0 = now();
  const r2 = await expect(`_HLS_msn=${open.msn + 1}`, 200, '_HLS_msn alone');
  if (r2.status === 200) {
    const pl = readPlaylist(r2.body.toString());
    const seg = pl.segments.find((s) => s.msn === open.msn + 1);
    if (!seg || seg.open) problem(`_HLS_msn=${open.msn + 1} answered before that segment was complete`);
    stats.msn_only_wait_ms = Math.round(now() - t0);
  }
  // gzip when asked (Accept-Encoding), identical text.
  const gz = await get(url(llCam, 'stream.m3u8'), { 'accept-encoding': 'gzip' });
  if (gz.headers.get('content-encoding') !== 'gzip') problem('no gzip playlist for Accept-Encoding: gzip');
  else {
    // fetch() decodes it already when the header is present
    strict(gz.body.toString(), 'gzip playlist');
    stats.gzip_checked++;
  }
  // Segment = its parts, concatenated.
  const seg = cur.complete.at(-1);
  if (seg.parts.length) {
    const whole = await get(new URL(seg.uri, url(llCam, 'x')).href);
    headerProblems(whole, `segment ${stripQuery(seg.uri)}`, 'mp4');
    const parts = [];
    for (const p of seg.parts) parts.push((await get(new URL(p.uri, url(llCam, 'x')).href)).body);
    if (!Buffer.concat(parts).equals(whole.body)) problem(`segment ${seg.uri} is not the concatenation of its parts`);
    else stats.segment_equals_parts = true;
  }
}

async function classicClient(deadline) {
  const seen = [];
  const fetched = new Set();
  const arrivals = []; // when a new last segment was first seen
  const pollMs = 300;
  while (now() < deadline) {
    const got = await fetchPlaylist(classicCam, '', 'classic');
    if (got) {
      const last = got.pl.segments.at(-1)?.msn;
      if (seen.length && last !== seen.at(-1).segments.at(-1)?.msn) arrivals.push(now());
      classicChecks(got.pl, 'classic');
      if (seen.length) checkUpdate(seen.at(-1), got.pl, 'classic update', false);
      seen.push(got.pl);
      for (const s of got.pl.segments) {
        if (fetched.has(s.uri) || fetched.size > 8) continue;
        fetched.add(s.uri);
        const r = await get(new URL(s.uri, url(classicCam, 'x')).href);
        if (r.status !== 200) problem(`classic ${s.uri}: ${r.status}`);
        else headerProblems(r, `classic ${stripQuery(s.uri)}`, 'ts');
      }
    }
    await sleep(pollMs);
  }
  stats.classic_versions = seen.length;
  // Blocking reload of a classic playlist: _HLS_msn for the next segment is held until it
  // is listed; a part directive (it has none) or a segment too far ahead is 400.
  const cur = seen.at(-1);
  if (cur?.tags.server?.['CAN-BLOCK-RELOAD'] === 'YES') {
    const next = cur.segments.at(-1).msn + 1;
    const t0 = now();
    const r = await get(url(classicCam, 'stream.m3u8', `_HLS_msn=${next}`));
    const waited = now() - t0;
    if (r.status !== 200) problem(`classic blocking reload for ${next}: status ${r.status}`);
    else if (!readPlaylist(r.body.toString()).segments.some((x) => x.msn === next)) problem(`classic blocking reload for ${next} answered without it`);
    stats.classic_blocking_wait_ms = Math.round(waited);
    for (const [q, what] of [[`_HLS_msn=${next}&_HLS_part=0`, 'a part directive'], [`_HLS_msn=${next + 3}`, 'a segment too far ahead']]) {
      const b = await get(url(classicCam, 'stream.m3u8', q));
      if (b.status !== 400) problem(`classic playlist with ${what}: status ${b.status}, expected 400`);
    }
  }
  // RFC 8216 §6.2.1: a new version, with a new segment, 0.5 to 1.5 target durations after
  // the previous one (seen through polling every pollMs).
  const td = seen[0]?.tags.td ?? 1;
  const gaps = arrivals.slice(1).map((t, i) => (t - arrivals[i]) / 1000);
  for (const g of gaps)
    if (g > 1.5 * td + (pollMs + 200) / 1000 || g < 0.5 * td - (pollMs + 200) / 1000)
      problem(`classic: a new playlist version ${g.toFixed(2)} s after the previous one (target duration ${td} s)`);
  stats.classic_update_interval_s = { min: Math.min(...gaps), max: Math.max(...gaps) };
}

const deadline = now() + seconds * 1000;
const out = { base, ll: llCam, classic: classicCam || null, seconds };
try {
  await Promise.all([
    llClient(deadline).then(() => errorProbes()),
    removalChecker(deadline),
    classicCam ? classicClient(deadline) : null,
  ]);
  // Every version alone and against the previous one.
  for (let i = 0; i < versions.length; i++) {
    checkLlVersion(versions[i].pl, `version ${i}`);
    if (i) checkUpdate(versions[i - 1].pl, versions[i].pl, `version ${i - 1} -> ${i}`, true);
  }
  for (const d of deltas) if (d.skipped === 0 && d.segments.length * d.tags.td > 2 * Number(d.tags.server['CAN-SKIP-UNTIL']))
    problem('a long playlist answered _HLS_skip=YES without skipping');
  const distinct = new Set(versions.map((v) => v.pl.text)).size;
  Object.assign(out, stats, {
    versions: versions.length,
    distinct_versions: distinct,
    deltas: deltas.length,
    skipped_segments_max: Math.max(0, ...deltas.map((d) => d.skipped)),
    blocking_wait_ms: { p50: pct(blockingWaits, 50), p95: pct(blockingWaits, 95), max: pct(blockingWaits, 100) },
    hint_wait_ms: { p50: pct(hintWaits, 50), p95: pct(hintWaits, 95), max: pct(hintWaits, 100) },
    part_target: versions[0]?.pl.tags.partTarget,
    target_duration: versions[0]?.pl.tags.td,
    part_hold_back: Number(versions[0]?.pl.tags.server?.['PART-HOLD-BACK']),
  });
  if (versions.length < seconds * minRate) problem(`only ${versions.length} playlist versions in ${seconds} s (blocking reload should give ~5/s)`);
  if (stats.delta_checked === 0) problem('no delta playlist could be checked against a full one');
} catch (err) {
  problem(`checker crashed: ${err.stack ?? err}`);
}
out.problems = problems;
out.ok = problems.length === 0;
console.log(JSON.stringify(out, null, 1));
process.exit(out.ok ? 0 : 1);
