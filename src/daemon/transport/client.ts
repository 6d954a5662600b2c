import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import tls from "node:tls";
import {
  type Client,
  Code,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import { watchFiles } from "../../common/file-watch.js";
import { createAttemptTimeoutInterceptor, createDeadlineInterceptor } from "./deadline.js";
import { describeError, errorCode, tlsHint } from "./errors.js";
import { explainProtocolMismatch } from "./protocol-probe.js";
import { createRetryInterceptor, type RetryOptions } from "./retry.js";
import { probeTls } from "./tls-probe.js";

export type ManagerClient = Client<typeof ManagerService>;

export interface ManagerClientOptions {
  /** host:port, or a full http(s):// URL. */
  address: string;
  timeoutMs: number;
  tls?: { certFile: string; keyFile: string; caFile: string } | undefined;
  /** In-call retry; false turns it off (`--once` keeps a short budget instead). */
  retry?: Partial<RetryOptions> | false;
  /** Extra interceptors, outermost first, before retry and deadline. */
  interceptors?: Interceptor[];
  /** File holding the enrollment token (`manager.token_file`), sent as `Authorization: Bearer`. */
  tokenFile?: string | undefined;
  /** With tls: how often the files are checked for a renewal (plus a folder watch); 0 = never. */
  tlsReloadIntervalMs?: number;
  /** A renewed certificate was taken (new connection) or refused (the old one stays). */
  onTlsReload?: (event: TlsReloadEvent) => void;
}

export type TlsReloadEvent =
  | { result: "ok"; certExpiresAt: number | undefined }
  | { result: "refused"; reason: string };

export interface ManagerConnection {
  client: ManagerClient;
  /** describeError, plus what a bare TLS connection reports when the call failed at the TLS layer. */
  diagnose(err: unknown): Promise<string>;
  /** The client certificate's notAfter (Unix seconds); undefined without TLS. */
  readonly certExpiresAt: number | undefined;
  /** Looks at the TLS files now (tests; the watch does it by itself). */
  checkTls(): void;
  /** Closes the HTTP/2 session so the process can exit. */
  close(): void;
}

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  minVersion: "TLSv1.3";
}

/**
 * Reads the three files; with `check`, also that they would load (throws with
 * what is wrong). At start a bad pair is left to fail the connection, where
 * the TLS diagnosis explains it; a renewal is checked before it replaces a good one.
 */
function readTlsFiles(
  files: { certFile: string; keyFile: string; caFile: string },
  check: boolean,
): { options: TlsFiles; certExpiresAt: number | undefined } {
  const options = {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ca: readFileSync(files.caFile),
    minVersion: "TLSv1.3" as const,
  };
  // What a handshake would do: refuses a key that is not the certificate's, or bad PEM.
  if (check) tls.createSecureContext(options);
  let certExpiresAt: number | undefined;
  try {
    certExpiresAt = Math.floor(
      new Date(new X509Certificate(options.cert).validTo).getTime() / 1000,
    );
  } catch (err) {
    if (check) throw err;
  }
  return { options, certExpiresAt };
}

/** One transport over one HTTP/2 connection, and the calls still running on it. */
interface Generation {
  transport: Transport;
  sessions: Http2SessionManager;
  inFlight: number;
  retired: boolean;
}

/** One long-lived HTTP/2 connection to the manager, with keepalive pings (DESIGN §3). */
export function createManagerConnection(opts: ManagerClientOptions): ManagerConnection {
  const scheme = opts.tls ? "https" : "http";
  const baseUrl = /^https?:\/\//.test(opts.address) ? opts.address : `${scheme}://${opts.address}`;
  if (opts.tls && baseUrl.startsWith("http://"))
    throw new Error(`manager address ${opts.address} is plaintext but TLS is configured`);
  let tlsNow = opts.tls ? readTlsFiles(opts.tls, false) : undefined;
  const interceptors = [
    ...(opts.tokenFile ? [createTokenInterceptor(opts.tokenFile)] : []),
    ...(opts.interceptors ?? []),
    // manager.timeout bounds the whole call, retries included (DESIGN §3: per call)…
    createDeadlineInterceptor(opts.timeoutMs),
    ...(opts.retry === false ? [] : [createRetryInterceptor(opts.retry ?? {})]),
    // …and each attempt gets what is left of it.
    createAttemptTimeoutInterceptor(),
  ];
  const open = (): Generation => {
    const sessions = new Http2SessionManager(
      baseUrl,
      { pingIntervalMs: 10_000, pingTimeoutMs: 3_000, pingIdleConnection: true },
      tlsNow?.options ?? {},
    );
    const transport = createGrpcTransport({ baseUrl, interceptors, sessionManager: sessions });
    return { transport, sessions, inFlight: 0, retired: false };
  };
  let current = open();
  const retire = (g: Generation) => {
    g.retired = true;
    if (g.inFlight === 0) g.sessions.abort();
  };
  // Calls started on the old connection finish there (their batch stays
  // spooled until OK either way); every call after a renewal uses a new one.
  const transport: Transport = {
    async unary(...args) {
      const g = current;
      g.inFlight++;
      try {
        return await g.transport.unary(...args);
      } finally {
        g.inFlight--;
        if (g.retired && g.inFlight === 0) g.sessions.abort();
      }
    },
    stream: (...args) => current.transport.stream(...args),
  };

  const tlsFiles = opts.tls;
  const watch =
    tlsFiles && opts.tlsReloadIntervalMs
      ? watchFiles([tlsFiles.certFile, tlsFiles.keyFile, tlsFiles.caFile], {
          intervalMs: opts.tlsReloadIntervalMs,
          onChange: () => {
            let next: ReturnType<typeof readTlsFiles>;
            try {
              next = readTlsFiles(tlsFiles, true);
            } catch (err) {
              opts.onTlsReload?.({ result: "refused", reason: (err as Error).message });
              return;
            }
            const same =
              tlsNow &&
              next.options.cert.equals(tlsNow.options.cert) &&
              next.options.key.equals(tlsNow.options.key) &&
              next.options.ca.equals(tlsNow.options.ca);
            if (same) return;
            tlsNow = next;
            const old = current;
            current = open();
            retire(old);
            opts.onTlsReload?.({ result: "ok", certExpiresAt: next.certExpiresAt });
          },
        })
      : undefined;

  return {
    client: createClient(ManagerService, transport),
    get certExpiresAt() {
      return tlsNow?.certExpiresAt;
    },
    checkTls: () => watch?.check(),
    close: () => {
      watch?.close();
      current.sessions.abort();
    },
    async diagnose(err) {
      const text = describeError(err);
      const code = errorCode(err);
      if (
        ![Code.Canceled, Code.Aborted, Code.Unavailable, Code.Internal, Code.Unknown].includes(code)
      )
        return text;
      const url = new URL(baseUrl);
      // The wrong port, or TLS on one side only, shows up as a riddle from HTTP/2 or OpenSSL.
      const mismatch = await explainProtocolMismatch(
        opts.address,
        url.hostname,
        Number(url.port || (opts.tls ? 443 : 80)),
        Boolean(opts.tls),
      );
      if (mismatch) return `[${Code[code]}] ${mismatch}`;
      if (!opts.tls) return text;
      const found = await probeTls(url.hostname, Number(url.port || 443), tlsNow?.options ?? {});
      if (!found) return text;
      const hint = tlsHint(found);
      return `${text}; TLS probe: ${found}${hint ? ` — ${hint}` : ""}`;
    },
  };
}

/**
 * Sends the enrollment token from `manager.token_file`, read again on every
 * call so a rotated secret (Kubernetes, compose) is picked up without a restart.
 */
function createTokenInterceptor(tokenFile: string): Interceptor {
  return (next) => (req) => {
    const token = readFileSync(tokenFile, "utf8").trim();
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** A client alone, for callers that never close (tests, one-shot tools). */
export function createManagerClient(opts: ManagerClientOptions): ManagerClient {
  return createManagerConnection(opts).client;
}
