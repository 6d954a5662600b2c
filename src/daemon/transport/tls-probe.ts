import tls from "node:tls";

/**
 * Under TLS 1.3 the server checks our certificate after the handshake has
 * finished on our side, so a refused client certificate reaches the gRPC call
 * only as a cancelled stream. This opens one bare TLS connection with the same
 * settings and returns what the TLS layer says (an alert such as "unknown ca"
 * or "certificate required"), or undefined when the connection stays up.
 */
export function probeTls(
  host: string,
  port: number,
  options: tls.ConnectionOptions,
  waitMs = 1_000,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = tls.connect({ ...options, host, port, ALPNProtocols: ["h2"] });
    let settled = false;
    const done = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), waitMs);
    sock.on("error", (err: NodeJS.ErrnoException) =>
      done(err.code ? `${err.message} (${err.code})` : err.message),
    );
    sock.on("close", () => done(settled ? undefined : "the manager closed the TLS connection"));
    // Data must flow for the server's verdict on our certificate to arrive.
    sock.on("secureConnect", () => sock.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  });
}
