import { type Code, ConnectError } from "@connectrpc/connect";

/** The error a call failed with, as a ConnectError, or undefined when it succeeded. */
export const errorOf = (call: Promise<unknown>): Promise<ConnectError | undefined> =>
  call.then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );

/** The code a call failed with, or "ok" when it succeeded: `expect(await codeOf(p)).toBe(Code.NotFound)`. */
export const codeOf = async (call: Promise<unknown>): Promise<Code | "ok"> =>
  (await errorOf(call))?.code ?? "ok";
