// Builds the e2e test pages (e2e/harness) to e2e/out/harness. Not part of the shipped app.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('./e2e/harness', import.meta.url)),
  base: './',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./e2e/out/harness', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1100,
    rollupOptions: { input: { memtest: fileURLToPath(new URL('./e2e/harness/memtest.html', import.meta.url)) } },
  },
});
