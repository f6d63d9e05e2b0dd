// Builds the dashboard into web/dist, which Signet serves at / (src/faces/web.ts). Asset names carry a content
// hash, so the server can cache them as immutable; no inline script or style is emitted, so the page runs
// under a CSP of 'self' only.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // An inlined asset would be a data: URL (allowed for images only): keep every asset a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '^/(api|session|login|logout|signup|verify_email|confirm_email|password_reset|invites/accept|activate)':
        'http://127.0.0.1:8080',
    },
  },
});
