import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// base './' so the build works wherever the origin mounts it (/, /ui/, a file server).
export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No sourcemaps in the served build: the origin serves web/dist to anyone who can
    // reach it, without auth, and a map is megabytes of source for a 100-byte request.
    // (The e2e pages build from vite.e2e.config.ts and never needed them.)
    sourcemap: false,
    // hls.js alone is ~520 kB minified (~160 kB gzip).
    chunkSizeWarningLimit: 1100,
    target: 'es2020',
    rollupOptions: {
      input: {
        index: here('./index.html'),
        player: here('./player.html'),
      },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
    reporters: ['default', './vitest.summary-reporter.ts'],
  },
});
