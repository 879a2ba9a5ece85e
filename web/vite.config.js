// Builds the viewer into the Python package (syconn/server/static), served at /app.
// Asset URLs are relative, so the page also works under a proxy prefix.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../syconn/server/static", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    reportCompressedSize: true,
    // three.js (WebGLRenderer and its shaders) is most of the ~590 kB bundle
    chunkSizeWarningLimit: 800,
  },
});
