import net from "node:net";
import tls from "node:tls";

/** What answers at an address, seen from one plaintext HTTP/2 connection preface. */
export type ProtocolFound = "h2c" | "http1" | "tls" | "closed" | "silent" | "unreachable";

const PREFACE = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/**
 * Sends a plaintext HTTP/2 preface and classifies the first bytes back: an
 * HTTP/2 server answers with SETTINGS, an HTTP/1.1 server with "HTTP/1.1 400",
 * a TLS server with an alert record (or by hanging up). Used only to explain a
 * failed call, never on the hot path; a busy manager may take a while to answer.
 */
export function probeProtocol(host: string, port: number, waitMs = 3_000): Promise<ProtocolFound> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let settled = false;
    const done = (v: ProtocolFound) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done("silent"), waitMs);
    sock.once("connect", () => sock.write(PREFACE));
    sock.once("data", (data: Buffer) => {
      if (data.subarray(0, 5).toString("latin1") === "HTTP/") done("http1");
      else if (data[0] === 0x15 || data[0] === 0x16) done("tls");
      else if (data.length >= 9 && data[3] === 0x04) done("h2c");
      else done("closed");
    });
    sock.once("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNRESET" || err.code === "EPIPE" ? "closed" : "unreachable"),
    );
    sock.once("close", () => done("closed"));
  });
}

/** Whether a TLS handshake completes at the address (the server's certificate is not judged here). */
export function speaksTls(host: string, port: number, waitMs = 3_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tls.connect({
      host,
      port,
      rejectUnauthorized: false,
      ALPNProtocols: ["h2", "http/1.1"],
    });
    let settled = false;
    const done = (v: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), waitMs);
    sock.once("secureConnect", () => done(true));
    sock.once("error", () => done(false));
    sock.once("close", () => done(false));
  });
}
