import { createReadStream, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { HttpRequest, HttpResponse } from "./types.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Fleet</title>
<h1>Fleet dashboard not built</h1>
<p>The manager serves the dashboard from <code>dist/web</code>, which does not exist yet.
Run <code>npm run build</code> in the package folder and reload this page.</p>
<p>The API works regardless: <code>curl -H 'content-type: application/json' -d '{}' /fleet.v1.FleetService/GetFleetSummary</code></p>
`;

/**
 * Serves the built dashboard (Vite output) from `root`: GET and HEAD only,
 * never outside `root`, hashed assets cached for a year, index.html always
 * revalidated. Returns false for paths it does not serve.
 */
export function createDashboardHandler(root: string) {
  const base = resolve(root);
  return async (req: HttpRequest, res: HttpResponse): Promise<boolean> => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return false; // malformed percent-encoding: not a file of ours
    }
    if (path.includes("\0")) return false;
    if (path === "/" || path === "/index.html") path = "/index.html";
    const file = resolve(join(base, path));
    if (!file.startsWith(base + sep)) return false;
    let info: Stats;
    try {
      info = await stat(file);
    } catch (err) {
      if (path !== "/index.html") return false;
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      res.writeHead(503, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
      });
      if (req.method === "HEAD") res.end();
      else res.end(NOT_BUILT);
      return true;
    }
    if (!info.isFile()) return false;
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers: Record<string, string> = {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": path.startsWith("/assets/")
        ? "public, max-age=31536000, immutable"
        : "no-cache",
      etag,
      "x-content-type-options": "nosniff",
      // The page's URL (node ids, selectors) never leaves with a link; no framing (clickjacking).
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    };
    if (file.endsWith(".html")) headers["content-security-policy"] = CSP;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers["content-length"] = String(info.size);
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    // pipeline destroys the file stream when the client goes away mid-download.
    await pipeline(createReadStream(file), res).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ERR_STREAM_PREMATURE_CLOSE") throw err;
    });
    return true;
  };
}
