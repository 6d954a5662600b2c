import type { connectNodeAdapter } from "@connectrpc/connect-node";

/** The handler Connect's adapter calls for a path that is no RPC. */
export type HttpFallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
/** The request and response that fallback receives (HTTP/1.1 or HTTP/2). */
export type HttpRequest = Parameters<HttpFallback>[0];
export type HttpResponse = Parameters<HttpFallback>[1];
