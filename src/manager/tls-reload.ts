import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { watchFiles } from "../common/file-watch.js";
import type { Logger } from "../common/logging.js";
import type { ManagerConfig } from "./config.js";
import type { TlsMaterial } from "./tls.js";

/** When each certificate of the material stops being valid (Unix seconds). */
export interface TlsExpiry {
  server: number;
  /** The earliest-expiring certificate of the client CA bundle; undefined without one. */
  clientCa: number | undefined;
}

/** A server whose secure context can be swapped for new handshakes (tls.Server and its subclasses). */
interface SecureContextTarget {
  setSecureContext(options: tls.SecureContextOptions): void;
}

export interface TlsReloader {
  /** The material in force now. */
  readonly current: TlsMaterial;
  readonly expiry: TlsExpiry;
  /** Looks at the files now; true when a new pair was taken. */
  check(): boolean;
  close(): void;
}

/** Every certificate of a PEM bundle, in order. */
export function certificatesOf(pem: Buffer): X509Certificate[] {
  const blocks = pem
    .toString("utf8")
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  return (blocks ?? []).map((b) => new X509Certificate(b));
}

const unixOf = (date: string) => Math.floor(new Date(date).getTime() / 1000);

/**
 * Checks that the material would serve: the certificate parses, the key is
 * its key, the CA bundle holds at least one certificate. Returns the expiry
 * or throws an Error whose message says what is wrong.
 */
export function verifyTlsMaterial(m: TlsMaterial): TlsExpiry {
  const chain = certificatesOf(m.cert);
  const leaf = chain[0];
  if (!leaf) throw new Error("tls.cert holds no PEM certificate");
  // createSecureContext is what the server would do; it refuses a key that is not the cert's.
  tls.createSecureContext({ cert: m.cert, key: m.key, ...(m.clientCa ? { ca: m.clientCa } : {}) });
  let clientCa: number | undefined;
  if (m.clientCa) {
    const cas = certificatesOf(m.clientCa);
    if (cas.length === 0) throw new Error("tls.client_ca holds no PEM certificate");
    clientCa = Math.min(...cas.map((c) => unixOf(c.validTo)));
  }
  return { server: unixOf(leaf.validTo), clientCa };
}

/**
 * Watches FLEET_TLS_CERT/KEY/CLIENT_CA and swaps the servers' secure context
 * when they change (watchFiles: folder watch plus poll), so renewed
 * certificates apply to new handshakes while live connections keep theirs
 * (`setSecureContext` replaces only what new handshakes use). A new pair
 * that does not load (half-written, mismatched key, unparsable) is refused
 * with one log line and the old one stays in force until a good pair appears.
 */
export function createTlsReloader(opts: {
  config: Readonly<ManagerConfig>;
  initial: TlsMaterial;
  /** The gRPC port (gets the client CA) and the HTTP port (server certificate only). */
  grpcServer: SecureContextTarget;
  httpServer: SecureContextTarget;
  intervalMs: number;
  logger: Logger;
  onChange?: (expiry: TlsExpiry) => void;
  onRefused?: () => void;
}): TlsReloader {
  const { certFile, keyFile, clientCaFile } = opts.config.tls;
  const files = [certFile, keyFile, ...(clientCaFile ? [clientCaFile] : [])];
  let current = opts.initial;
  let expiry = verifyTlsMaterial(current);
  let changed = false;
  const load = (): boolean => {
    let next: TlsMaterial;
    try {
      next = {
        cert: readFileSync(certFile),
        key: readFileSync(keyFile),
        clientCa: clientCaFile ? readFileSync(clientCaFile) : undefined,
      };
    } catch (err) {
      opts.logger.error(
        { err: (err as Error).message },
        "TLS files changed but cannot be read; keeping the certificate in force",
      );
      opts.onRefused?.();
      return false;
    }
    if (
      next.cert.equals(current.cert) &&
      next.key.equals(current.key) &&
      (next.clientCa ?? Buffer.alloc(0)).equals(current.clientCa ?? Buffer.alloc(0))
    )
      return false;
    let nextExpiry: TlsExpiry;
    try {
      nextExpiry = verifyTlsMaterial(next);
    } catch (err) {
      opts.logger.error(
        { err: (err as Error).message, cert: certFile, key: keyFile },
        "new TLS files refused; keeping the certificate in force",
      );
      opts.onRefused?.();
      return false;
    }
    const base = { minVersion: "TLSv1.3" as const, cert: next.cert, key: next.key };
    opts.grpcServer.setSecureContext({ ...base, ...(next.clientCa ? { ca: next.clientCa } : {}) });
    opts.httpServer.setSecureContext(base);
    current = next;
    expiry = nextExpiry;
    opts.logger.info(
      {
        serverExpires: new Date(expiry.server * 1000).toISOString(),
        ...(expiry.clientCa
          ? { clientCaExpires: new Date(expiry.clientCa * 1000).toISOString() }
          : {}),
      },
      "TLS certificate reloaded; new connections use it",
    );
    opts.onChange?.(expiry);
    return true;
  };

  const watch = watchFiles(files, {
    intervalMs: opts.intervalMs,
    onChange: () => {
      changed = load();
    },
  });

  return {
    get current() {
      return current;
    },
    get expiry() {
      return expiry;
    },
    check() {
      changed = false;
      watch.check();
      return changed;
    },
    close: () => watch.close(),
  };
}
