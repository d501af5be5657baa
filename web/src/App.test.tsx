// @vitest-environment jsdom
// The dashboard in Supabase mode (issue 13): a camera whose shop box stopped renewing its
// row's `last_seen_at` shows offline, although the row still says 'active' (a dead box
// cannot say so), and turns offline by itself as time passes, with no change in the
// table.  The table read is faked (the real one: @supabase/supabase-js against PostgREST;
// e2e/run.mjs runs it in Chromium against a stand-in); the player is a stub (playback is
// tested in Chromium too).

import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render } from '@testing-library/react';
import type { CameraRow } from './cameras';

const table = vi.hoisted(() => ({ rows: [] as CameraRow[] }));

vi.mock('./cameras', async (importOriginal) => {
  const real = await importOriginal<typeof import('./cameras')>();
  return {
    ...real,
    // What fetchSupabaseCameras does with PostgREST's answer, without the network.
    fetchSupabaseCameras: async () => {
      const now = Date.now();
      return table.rows.map((r) => real.fromCameraRow(r, now)).filter((c) => c !== null);
    },
  };
});

vi.mock('./LivePlayer', async () => {
  const { forwardRef, useEffect } = await import('react');
  const LivePlayer = forwardRef(function LivePlayer(props: { onStateChange?: (p: string) => void }, _ref) {
    // The player never gets a frame: the box is dead.
    useEffect(() => props.onStateChange?.('stalled'), [props]);
    return <div data-testid="player" />;
  });
  return { LivePlayer, default: LivePlayer, PROTOCOL_LABEL: { webrtc: 'WebRTC', 'll-hls': 'LL-HLS', hls: 'HLS' } };
});

import { App } from './App';
import { DEFAULT_CONFIG } from './config';

const T0 = Date.parse('2026-12-03T12:00:00.000Z');

function row(key: string, lastSeen: number): CameraRow {
  return {
    id: key,
    camera_key: key,
    name: key,
    stream_url: `https://x.supabase.co/storage/v1/object/public/streams/location_1/${key}/stream.m3u8`,
    status: 'active',
    is_active: true,
    last_seen_at: new Date(lastSeen).toISOString(),
  };
}

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('dashboard, Supabase mode', () => {
  it('shows a camera offline once its last_seen_at is stale, even though its row says active', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    vi.setSystemTime(T0);
    // cam_dead: its box last renewed the row 60 s ago and then died; cam_ok: renewed 5 s ago.
    table.rows = [row('cam_dead', T0 - 60_000), row('cam_ok', T0 - 5_000)];
    const config = { ...DEFAULT_CONFIG, supabaseUrl: 'https://x.supabase.co', supabaseAnonKey: 'anon', refreshMs: 5000 };
    const { container } = render(<App initialConfig={config} />);
    const tile = (id: string) => container.querySelector(`li[data-camera="${id}"]`);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    // 60 s is not stale yet (90 s): a stalled player counts as live for now.
    expect(tile('cam_dead')?.getAttribute('data-state')).toBe('live');
    expect(tile('cam_dead')?.hasAttribute('data-stale')).toBe(false);

    // 35 s later, nobody has written the table: cam_dead is 95 s old, cam_ok's box renewed it.
    table.rows = [row('cam_dead', T0 - 60_000), row('cam_ok', T0 + 30_000)];
    await act(async () => {
      await vi.advanceTimersByTimeAsync(35_000);
    });
    expect(tile('cam_dead')?.getAttribute('data-state')).toBe('offline');
    expect(tile('cam_dead')?.getAttribute('data-stale')).toBe('true');
    expect(tile('cam_dead')?.querySelector('.tile-offline')?.textContent).toMatch(/^No report from the shop since /);
    expect(tile('cam_dead')?.querySelector('[data-testid="badge"]')?.textContent).toBe('Offline');
    expect(tile('cam_ok')?.getAttribute('data-state')).toBe('live');
  });
});
