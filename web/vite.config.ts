import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The dashboard: web/ → dist/web, served by the manager at / on its HTTP port. */
export default defineConfig({
  root: here("."),
  base: "/",
  publicDir: false,
  logLevel: "warn",
  build: {
    outDir: here("../dist/web"),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npx vite --config web/vite.config.ts` proxies the API to a local manager.
    proxy: { "/fleet.v1.FleetService": "http://127.0.0.1:8080" },
  },
});
