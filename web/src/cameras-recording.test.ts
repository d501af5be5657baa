// @vitest-environment jsdom
// The recording fields of /api/cameras as the dashboard reads them (cameras.ts, additions for
// the timeline): `recording` -> vodBase, and the live snapshot URL the tiles use as poster,
// both carrying the origin's token.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchApiCameras, liveSnapshotUrl, parseApiCameras, parseRecording } from './cameras';
import { DEFAULT_CONFIG } from './config';

afterEach(() => vi.unstubAllGlobals());

describe('recording fields', () => {
  it('parses the recording object, resolving vod_url to its /vod/<camera>/ directory', () => {
    const r = parseRecording(
      { enabled: true, state: 'recording', oldest: '2026-12-01T09:00:00.000Z', newest: '2026-12-03T14:32:02.123Z', bytes: 1, vod_url: '/vod/cam_till/index.m3u8' },
      'http://box:8080/',
    );
    expect(r).toEqual({ enabled: true, state: 'recording', oldest: '2026-12-01T09:00:00.000Z', newest: '2026-12-03T14:32:02.123Z', vodBase: 'http://box:8080/vod/cam_till/' });
    expect(parseRecording({ enabled: false }, '')).toEqual({ enabled: false, state: null, oldest: null, newest: null, vodBase: null });
    expect(parseRecording({ enabled: 'yes' }, '')).toBeUndefined();
    expect(parseRecording(null, '')).toBeUndefined();
    expect(parseRecording({ enabled: true, vod_url: '/vod/c/index.m3u8' }, '')?.vodBase).toBe('/vod/c/');
  });

  it('derives the live snapshot only from an origin /live/ playlist URL', () => {
    expect(liveSnapshotUrl('http://box:8080/live/cam/stream.m3u8?token=t')).toBe('http://box:8080/live/cam/snapshot.jpg');
    expect(liveSnapshotUrl('/live/cam/stream.m3u8')).toBe('/live/cam/snapshot.jpg');
    expect(liveSnapshotUrl('https://x.supabase.co/storage/v1/object/public/streams/location_1/cam/stream.m3u8')).toBeNull();
  });

  it('keeps the recording on parsed cameras and adds the token to the snapshot and VOD URLs', async () => {
    const body = {
      cameras: [
        { id: 'cam', name: 'Till', status: 'live', playlist_url: '/live/cam/stream.m3u8', recording: { enabled: true, vod_url: '/vod/cam/index.m3u8' } },
        { id: 'old', status: 'live', playlist_url: '/live/old/stream.m3u8' },
      ],
    };
    expect(parseApiCameras(body, 'http://box/')[0].recording?.vodBase).toBe('http://box/vod/cam/');
    expect(parseApiCameras(body, 'http://box/')[1].recording).toBeUndefined();
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }));
    const list = await fetchApiCameras({ ...DEFAULT_CONFIG, apiBase: 'http://box', token: 's3cret' });
    expect(list[0].snapshotUrl).toBe('http://box/live/cam/snapshot.jpg?token=s3cret');
    expect(list[0].recording?.vodBase).toBe('http://box/vod/cam/?token=s3cret');
    expect(list[1].recording).toBeUndefined();
    expect(list[1].snapshotUrl).toBe('http://box/live/old/snapshot.jpg?token=s3cret');
  });
});
