// Built by `npm run build:ui` (and by postinstall) into dist/, which appliance/http/ui.ts serves
// under /ui/. `vite appliance/ui` runs a dev server that forwards the API to a running appliance.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': { target: process.env.TETHER_URL ?? 'http://127.0.0.1:8080', ws: true } } },
});
