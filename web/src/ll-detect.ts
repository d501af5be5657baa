// Is a playlist Low-Latency HLS?  Decided from the playlist itself, never from a URL
// parameter: the page that plays `/live/<camera>/stream.m3u8` reads the playlist once before
// it builds hls.js and picks the `ll` row of the profile table when the origin serves parts.
//
// LL-HLS (draft-pantos-hls-rfc8216bis §4.4.3.7, §4.4.3.8): `#EXT-X-PART-INF:PART-TARGET=…`
// names the part duration, and `#EXT-X-SERVER-CONTROL` carries `PART-HOLD-BACK`, which the
// draft makes REQUIRED whenever parts are present.  Either one is enough to say "LL"; a
// classic playlist (edgestream's MPEG-TS cameras say `CAN-BLOCK-RELOAD=YES,HOLD-BACK=…` and
// nothing else) has neither.

export interface PlaylistKind {
  /** True when the playlist offers parts (PART-INF, or PART-HOLD-BACK in SERVER-CONTROL). */
  lowLatency: boolean;
  /** A multivariant playlist: the answer is about `variantUri`, which must be read instead. */
  multivariant: boolean;
  variantUri: string | null;
  partTarget: number | null;
  partHoldBack: number | null;
  holdBack: number | null;
  canBlockReload: boolean;
  targetDuration: number | null;
}

function attr(list: string, name: string): string | null {
  // Attribute lists are NAME=value pairs separated by commas; values may be quoted.
  const re = new RegExp(`(?:^|,)\\s*${name}=("[^"]*"|[^,]*)`);
  const m = re.exec(list);
  if (!m) return null;
  return m[1].startsWith('"') ? m[1].slice(1, -1) : m[1];
}

function num(v: string | null): number | null {
  if (v === null || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

export function detectPlaylistKind(text: string): PlaylistKind {
  const out: PlaylistKind = {
    lowLatency: false,
    multivariant: false,
    variantUri: null,
    partTarget: null,
    partHoldBack: null,
    holdBack: null,
    canBlockReload: false,
    targetDuration: null,
  };
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') return out;
  let expectVariant = false;
  for (const line of lines) {
    if (!line) continue;
    if (line.startsWith('#EXT-X-PART-INF:')) {
      out.partTarget = num(attr(line.slice('#EXT-X-PART-INF:'.length), 'PART-TARGET'));
    } else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      const list = line.slice('#EXT-X-SERVER-CONTROL:'.length);
      out.partHoldBack = num(attr(list, 'PART-HOLD-BACK'));
      out.holdBack = num(attr(list, 'HOLD-BACK'));
      out.canBlockReload = attr(list, 'CAN-BLOCK-RELOAD') === 'YES';
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      out.targetDuration = num(line.slice('#EXT-X-TARGETDURATION:'.length));
    } else if (line.startsWith('#EXT-X-STREAM-INF')) {
      out.multivariant = true;
      expectVariant = true;
    } else if (!line.startsWith('#') && expectVariant) {
      if (out.variantUri === null) out.variantUri = line;
      expectVariant = false;
    }
  }
  out.lowLatency = (out.partTarget !== null && out.partTarget > 0) || (out.partHoldBack !== null && out.partHoldBack > 0);
  return out;
}

/**
 * Fetch `url` (and, for a multivariant playlist, its first variant) and say whether it is
 * LL-HLS.  A plain GET without `_HLS_msn` is never held by the origin, so this costs one
 * round trip.  Rejects on network errors and non-2xx answers.
 */
export async function fetchPlaylistKind(url: string, signal?: AbortSignal, fetchImpl: typeof fetch = fetch): Promise<PlaylistKind> {
  const get = async (u: string) => {
    const res = await fetchImpl(u, { cache: 'no-store', signal });
    if (!res.ok) throw new Error(`GET ${u}: HTTP ${res.status}`);
    return res.text();
  };
  let kind = detectPlaylistKind(await get(url));
  if (kind.multivariant && kind.variantUri) {
    kind = { ...detectPlaylistKind(await get(new URL(kind.variantUri, url).href)), multivariant: true };
  }
  return kind;
}
