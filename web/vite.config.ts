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
    sourcemap: true,
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
