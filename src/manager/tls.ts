import { readFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import http2, { type Http2ServerRequest, type ServerHttp2Stream } from "node:http2";
import https from "node:https";
import type { Socket } from "node:net";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { ConfigError } from "../common/errors.js";
import type { ManagerConfig } from "./config.js";
import { stillWorking } from "./http2-guard.js";
import { verifyTlsMaterial } from "./tls-reload.js";

/** The server's PEM material; `clientCa` set means the gRPC port requires client certificates. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer | undefined;
}

/** Reads FLEET_TLS_CERT/KEY/CLIENT_CA; undefined when TLS is off. Unreadable files are a ConfigError. */
export function loadTlsMaterial(config: Readonly<ManagerConfig>): TlsMaterial | undefined {
  const { certFile, keyFile, clientCaFile } = config.tls;
  if (!certFile || !keyFile) return undefined;
  const problems: string[] = [];
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push(`${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code})`);
      return Buffer.alloc(0);
    }
  };
  const material = {
    cert: read("tls.cert", certFile),
    key: read("tls.key", keyFile),
    clientCa: clientCaFile ? read("tls.client_ca", clientCaFile) : undefined,
  };
  if (problems.length) throw new ConfigError(problems);
  try {
    verifyTlsMaterial(material);
  } catch (err) {
    // A key of another certificate, or no PEM: one line at start, not an OpenSSL stack.
    throw new ConfigError([
      `tls.cert/tls.key/tls.client_ca (${certFile}, ${keyFile}): ${(err as Error).message}`,
    ]);
  }
  return material;
}

/** The identity a client certificate speaks for, and the names it carries (for logs). */
export interface PeerIdentity {
  /** The node id the certificate is bound to; undefined when it names none or several. */
  nodeId: string | undefined;
  /** How the certificate names itself: its spiffe URI, else `CN=…`. */
  subject: string;
}

const SPIFFE_NODE_PREFIX = "spiffe://fleet/node/";
const identities = new WeakMap<TLSSocket, PeerIdentity | undefined>();

/**
 * The node identity of a verified client certificate: the SAN URI
 * `spiffe://fleet/node/<node_id>`, else the subject CN. A certificate with
 * two different spiffe node URIs (or two CNs) binds to no node at all.
 */
export function identityOfCertificate(cert: PeerCertificate): PeerIdentity | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const uris = parseSubjectAltNames(cert.subjectaltname ?? "")
    .filter((n) => n.startsWith("URI:"))
    .map((n) => n.slice(4));
  const nodeUris = [...new Set(uris.filter((u) => u.startsWith(SPIFFE_NODE_PREFIX)))];
  if (nodeUris.length > 0) {
    const only = nodeUris.length === 1 ? (nodeUris[0] as string) : undefined;
    return {
      nodeId: only ? decodeUriPart(only.slice(SPIFFE_NODE_PREFIX.length)) : undefined,
      subject: nodeUris.join(","),
    };
  }
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === "string" && cn !== "") return { nodeId: cn, subject: `CN=${cn}` };
  return { nodeId: undefined, subject: Array.isArray(cn) ? `CN=${cn.join("+")}` : "(no CN)" };
}

/** Node's `subjectaltname` string: `URI:a, DNS:b`, values JSON-quoted when they hold a comma. */
function parseSubjectAltNames(text: string): string[] {
  const out: string[] = [];
  const re = /\s*([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/gy;
  for (let m = re.exec(text); m !== null && m[0] !== ""; m = re.exec(text)) {
    const raw = m[2] as string;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        // A malformed quoted name binds to nothing rather than to a guess.
        continue;
      }
    }
    out.push(`${m[1]}:${value}`);
  }
  return out;
}

/** A raw HTTP/2 stream the fast path serves (fast-path/call.ts CallSource). */
export interface StreamSource {
  readonly stream: ServerHttp2Stream;
}

/** The verified peer identity of the request's TLS connection, computed once per connection. */

export function peerIdentityOf(
  req: IncomingMessage | Http2ServerRequest | StreamSource,
): PeerIdentity | undefined {
  const socket = (
    "stream" in req && req.stream?.session
      ? req.stream.session.socket
      : (req as IncomingMessage).socket
  ) as TLSSocket | undefined;
  if (!socket || typeof socket.getPeerCertificate !== "function" || !socket.authorized) {
    return undefined;
  }
  if (identities.has(socket)) return identities.get(socket);
  const identity = identityOfCertificate(socket.getPeerCertificate());
  identities.set(socket, identity);
  return identity;
}

/** Who is on the other end of a connection: what tells two daemons apart. */
export interface Peer {
  /** `address` or `address cert=<sha-256 prefix>`: equal for calls from one daemon. */
  key: string;
  /** notAfter of the verified client certificate (Unix seconds); undefined without one. */
  certExpiresAt: number | undefined;
}

const peers = new WeakMap<object, Peer>();

/**
 * The peer of the request's connection (remote address without port, and the
 * verified client certificate's fingerprint), computed once per connection,
 * so a heartbeat pays one WeakMap lookup for it.
 */
export function peerOf(req: IncomingMessage | Http2ServerRequest | StreamSource): Peer | undefined {
  const socket = (
    "stream" in req && req.stream?.session
      ? req.stream.session.socket
      : (req as IncomingMessage).socket
  ) as TLSSocket | undefined;
  if (!socket) return undefined;
  const known = peers.get(socket);
  if (known) return known;
  const address = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  let peer: Peer = { key: address, certExpiresAt: undefined };
  if (typeof socket.getPeerCertificate === "function" && socket.authorized) {
    const cert = socket.getPeerCertificate();
    if (cert?.fingerprint256) {
      const expires = Date.parse(cert.valid_to);
      peer = {
        key: `${address} cert=${cert.fingerprint256.replaceAll(":", "").slice(0, 16).toLowerCase()}`,
        certExpiresAt: Number.isFinite(expires) ? Math.floor(expires / 1000) : undefined,
      };
    }
  }
  peers.set(socket, peer);
  return peer;
}

/** HTTP/2 SETTINGS and session bounds for the gRPC port, TLS or not. */
export function grpcServerOptions(
  config: Readonly<ManagerConfig>,
  tls: TlsMaterial | undefined,
): http2.SecureServerOptions {
  const bounds: http2.ServerOptions = {
    settings: {
      maxConcurrentStreams: config.admission.maxConcurrentStreams,
      maxHeaderListSize: config.admission.maxHeaderListSize,
    },
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    // A connection that never speaks HTTP/2 is dropped after this long.
    unknownProtocolTimeout: 5_000,
  };
  const handshake = { handshakeTimeout: config.admission.firstRequestTimeoutMs };
  if (!tls) return bounds;
  return {
    ...bounds,
    ...handshake,
    cert: tls.cert,
    key: tls.key,
    minVersion: "TLSv1.3",
    ALPNProtocols: ["h2"],
    allowHTTP1: false,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Creates the gRPC port's server: mTLS/TLS when configured, else cleartext HTTP/2 (h2c). */
export function createGrpcServer(
  config: Readonly<ManagerConfig>,
  tls: TlsMaterial | undefined,
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): http2.Http2Server | http2.Http2SecureServer {
  const options = grpcServerOptions(config, tls);
  return tls ? http2.createSecureServer(options, handler) : http2.createServer(options, handler);
}

/** Creates the HTTP port's server: HTTPS with the same server certificate (no client certificate) when configured. */
export function createHttpServer(
  config: Readonly<ManagerConfig>,
  tls: TlsMaterial | undefined,
  handler: http.RequestListener,
): http.Server | https.Server {
  const bounds: http.ServerOptions = {
    maxHeaderSize: config.admission.maxHeaderListSize,
    // Slow senders (slowloris) lose their connection instead of holding it.
    headersTimeout: 10_000,
    requestTimeout: 60_000,
    // Checked every 2 s rather than 30 s, so a slow sender goes near headersTimeout.
    connectionsCheckingInterval: 2_000,
  };
  const server = tls
    ? https.createServer(
        {
          ...bounds,
          cert: tls.cert,
          key: tls.key,
          minVersion: "TLSv1.3",
          handshakeTimeout: config.admission.firstRequestTimeoutMs,
        },
        handler,
      )
    : http.createServer(bounds, handler);
  // No traffic for this long (idle, or a client that never reads): the socket goes,
  // unless one of its requests is still being answered (a slow call of ours).
  const working = new WeakMap<object, Set<http.ServerResponse>>();
  server.on("request", (req: IncomingMessage, res: http.ServerResponse) => {
    let set = working.get(req.socket);
    if (!set) {
      set = new Set();
      working.set(req.socket, set);
    }
    const s = set;
    s.add(res);
    res.once("close", () => s.delete(res));
  });
  server.timeout = config.admission.idleTimeoutMs;
  server.on("timeout", (socket: Socket) => {
    const set = working.get(socket);
    if (set && stillWorking(set)) socket.setTimeout(config.admission.idleTimeoutMs);
    else socket.destroy();
  });
  return server;
}

/** A malformed %-escape names no node (it would otherwise throw inside the request listener). */
function decodeUriPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
