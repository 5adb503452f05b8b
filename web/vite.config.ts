import { defineConfig } from "vite";

// `npm run dev` forwards the API to a running edge (`videoforge up`), so the app stays same-origin.
const edge = process.env.VIDEOFORGE_EDGE ?? "http://127.0.0.1:8080";

export default defineConfig({
  build: {
    outDir: "dist",
    // The edge serves `/assets/` with a year-long immutable cache: every name there carries a content hash.
    assetsDir: "assets",
    target: "es2022",
    // The players are large; they load on the watch page only, so the first page stays small.
    chunkSizeWarningLimit: 1200,
  },
  server: { proxy: { "/api": edge } },
});
