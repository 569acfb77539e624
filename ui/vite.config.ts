// Owns: the Vite build of the UI into ui/dist (embedded by the Tauri app as frontendDist).
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs work both under Tauri's custom protocol and a plain static server.
  base: './',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
  },
  server: { port: 1420, strictPort: true },
  clearScreen: false,
});
