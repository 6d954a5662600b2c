import { createHash, timingSafeEqual } from "node:crypto";

/**
 * A bearer-token check that takes the same time whatever the guess: both
 * sides are hashed first. Shared by the RPC auth interceptor and the HTTP
 * token gate, so the two ports accept exactly the same header.
 */
export function createTokenCheck(expected: string): (header: string | null | undefined) => boolean {
  const want = createHash("sha256").update(expected).digest();
  return (header) => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
    const got = createHash("sha256")
      .update(m?.[1] ?? "")
      .digest();
    return timingSafeEqual(want, got) && m !== null;
  };
}
