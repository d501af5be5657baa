// LL detection from the playlist itself (never from a URL parameter).

import { describe, expect, it, vi } from 'vitest';
import { detectPlaylistKind, fetchPlaylistKind } from './ll-detect';

// What the edgestream origin serves for an `ll` camera (docs/origin.md, "Low-Latency HLS").
const LL = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,HOLD-BACK=3.000,CAN-SKIP-UNTIL=6.000
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-MAP:URI="1764/init_1764_0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-03T08:00:00.000Z
#EXTINF:1.000,
1764/segment_41.m4s
#EXT-X-PART:DURATION=0.200,URI="1764/part_42_0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="1764/part_42_1.m4s"
`;

// A classic (MPEG-TS) camera: blocking reload of whole segments, no parts.
const CLASSIC = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=3.000
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:1.000,
segment_007.ts
`;

describe('detectPlaylistKind', () => {
  it('reads the origin LL playlist as LL, with its part target and hold-backs', () => {
    const k = detectPlaylistKind(LL);
    expect(k).toMatchObject({ lowLatency: true, partTarget: 0.2, partHoldBack: 0.6, holdBack: 3, canBlockReload: true, targetDuration: 1, multivariant: false });
  });

  it('reads a classic playlist (HOLD-BACK only, no parts) as not LL', () => {
    const k = detectPlaylistKind(CLASSIC);
    expect(k.lowLatency).toBe(false);
    expect(k.holdBack).toBe(3);
    expect(k.partHoldBack).toBeNull();
    expect(k.canBlockReload).toBe(true);
  });

  it('either tag alone is enough', () => {
    expect(detectPlaylistKind('#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=0.33334\n').lowLatency).toBe(true);
    expect(detectPlaylistKind('#EXTM3U\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=1.0,CAN-BLOCK-RELOAD=YES\n').lowLatency).toBe(true);
    // HOLD-BACK must not be mistaken for PART-HOLD-BACK.
    expect(detectPlaylistKind('#EXTM3U\n#EXT-X-SERVER-CONTROL:HOLD-BACK=6.0\n').lowLatency).toBe(false);
  });

  it('ignores what is not a playlist, and zero or garbage values', () => {
    expect(detectPlaylistKind('<html>').lowLatency).toBe(false);
    expect(detectPlaylistKind('#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=0\n').lowLatency).toBe(false);
    expect(detectPlaylistKind('#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=abc\n').lowLatency).toBe(false);
    expect(detectPlaylistKind('#EXTM3U\r\n#EXT-X-PART-INF:PART-TARGET=0.2\r\n').lowLatency).toBe(true);
  });

  it('names the first variant of a multivariant playlist', () => {
    const k = detectPlaylistKind('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nlow/stream.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nhigh.m3u8\n');
    expect(k).toMatchObject({ multivariant: true, variantUri: 'low/stream.m3u8', lowLatency: false });
  });
});

describe('fetchPlaylistKind', () => {
  const respond = (body: string, status = 200) => ({ ok: status >= 200 && status < 300, status, text: async () => body }) as Response;

  it('fetches without cache and answers for the playlist', async () => {
    const f = vi.fn(async () => respond(LL));
    const k = await fetchPlaylistKind('http://box/live/cam/stream.m3u8', undefined, f as unknown as typeof fetch);
    expect(k.lowLatency).toBe(true);
    expect(f).toHaveBeenCalledWith('http://box/live/cam/stream.m3u8', expect.objectContaining({ cache: 'no-store' }));
  });

  it('follows a multivariant playlist to its first variant', async () => {
    const f = vi.fn(async (u: string) => respond(u.endsWith('master.m3u8') ? '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/stream.m3u8\n' : LL));
    const k = await fetchPlaylistKind('http://box/x/master.m3u8', undefined, f as unknown as typeof fetch);
    expect(f).toHaveBeenLastCalledWith('http://box/x/v/stream.m3u8', expect.anything());
    expect(k).toMatchObject({ lowLatency: true, multivariant: true });
  });

  it('rejects on an HTTP error (the player then plays the given config)', async () => {
    const f = vi.fn(async () => respond('nope', 404));
    await expect(fetchPlaylistKind('http://box/a.m3u8', undefined, f as unknown as typeof fetch)).rejects.toThrow(/404/);
  });
});
