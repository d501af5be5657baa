import { useCallback, useEffect, useRef, useState } from 'react';
import { CameraTile } from './CameraTile';
import { fetchApiCameras, fetchSupabaseCameras, type Camera } from './cameras';
import { loadConfig, usesSupabase, type RuntimeConfig } from './config';
import type { LivePlayerHandle } from './LivePlayer';

type Load = { kind: 'loading' } | { kind: 'ok' } | { kind: 'error'; message: string };

declare global {
  interface Window {
    __edgestream?: { players: Map<string, LivePlayerHandle>; config: RuntimeConfig | null };
  }
}

const debug = typeof location !== 'undefined' && new URLSearchParams(location.search).has('debug');

export function App({ initialConfig }: { initialConfig?: RuntimeConfig }) {
  const [config, setConfig] = useState<RuntimeConfig | null>(initialConfig ?? null);
  const [cameras, setCameras] = useState<Camera[]>([]);
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  const [expanded, setExpanded] = useState<string | null>(null);
  const players = useRef(new Map<string, LivePlayerHandle>());

  useEffect(() => {
    if (config) return;
    let live = true;
    void loadConfig().then((c) => live && setConfig(c));
    return () => {
      live = false;
    };
  }, [config]);

  useEffect(() => {
    if (debug) window.__edgestream = { players: players.current, config };
  }, [config]);

  // Fetch the camera list now and every refreshMs.
  useEffect(() => {
    if (!config) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const abort = new AbortController();
    const refresh = async () => {
      try {
        const list = usesSupabase(config) ? await fetchSupabaseCameras(config) : await fetchApiCameras(config, abort.signal);
        if (stopped) return;
        setCameras((prev) => (JSON.stringify(prev) === JSON.stringify(list) ? prev : list));
        setLoad({ kind: 'ok' });
      } catch (err) {
        if (stopped) return;
        setLoad({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
      }
      if (!stopped) timer = setTimeout(refresh, config.refreshMs);
    };
    void refresh();
    return () => {
      stopped = true;
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, [config]);

  // Escape closes the enlarged camera.
  useEffect(() => {
    if (!expanded) return undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setExpanded(null);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [expanded]);

  // A camera that disappears from the list cannot stay enlarged.
  useEffect(() => {
    if (expanded && !cameras.some((c) => c.id === expanded)) setExpanded(null);
  }, [cameras, expanded]);

  const register = useCallback((id: string, h: LivePlayerHandle | null) => {
    if (h) players.current.set(id, h);
    else players.current.delete(id);
  }, []);

  const source = config ? (usesSupabase(config) ? 'Supabase' : 'edgestream origin') : '';
  return (
    <div className={`app${expanded ? ' app-modal' : ''}`}>
      <header className="app-header" inert={expanded ? true : undefined}>
        <h1>Cameras</h1>
        <p className="app-sub" aria-live="polite">
          {load.kind === 'loading' ? 'Loading cameras…' : null}
          {load.kind === 'ok' ? `${cameras.length} camera${cameras.length === 1 ? '' : 's'} · ${source}` : null}
          {load.kind === 'error' ? (
            <span className="app-error" role="alert">
              Cannot load the camera list: {load.message}. Retrying…
            </span>
          ) : null}
        </p>
      </header>
      <main>
        {load.kind === 'ok' && cameras.length === 0 ? <p className="empty">No active cameras.</p> : null}
        <ul className="grid" aria-label="Live cameras">
          {cameras.map((c) => (
            <CameraTile
              key={c.id}
              camera={c}
              expanded={expanded === c.id}
              inert={expanded !== null && expanded !== c.id}
              onToggle={setExpanded}
              register={register}
              protocol={config?.protocol ?? 'auto'}
            />
          ))}
        </ul>
      </main>
      {expanded ? <div className="backdrop" aria-hidden="true" onClick={() => setExpanded(null)} /> : null}
    </div>
  );
}

export default App;
