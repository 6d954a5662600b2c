import type { Logger } from "../../common/logging.js";
import type { DatabaseHandle } from "./client.js";
import { storeUnavailableCode } from "./store-errors.js";

/** The database stayed unreachable for the whole start timeout. */
export class DatabaseUnreachableError extends Error {
  override name = "DatabaseUnreachableError";
}

/**
 * Runs `step` (the migrations, the first statement a manager sends) until the
 * database answers, retrying only "unreachable" failures (refused, reset,
 * starting up, 57P03 …) with one log line each, for at most `timeoutMs`. A
 * manager and its database often start together (compose, a host reboot) and
 * crash-looping would only add restart delays; any other failure (bad
 * password, missing database, a bug) is thrown at once.
 */
export async function waitForDatabase<T>(
  handle: DatabaseHandle,
  step: () => Promise<T>,
  opts: { timeoutMs: number; logger: Logger; sleep?: (ms: number) => Promise<void> },
): Promise<T> {
  const sleep = opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + opts.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const code = storeUnavailableCode(err);
      if (!code) throw err;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DatabaseUnreachableError(
          `database ${handle.where} unreachable (${code}) for ${Math.round(opts.timeoutMs / 1000)} s (database.start_timeout); giving up`,
          { cause: err },
        );
      }
      const waitMs = Math.min(left, 500 * 2 ** Math.min(attempt - 1, 4));
      opts.logger.warn(
        { where: handle.where, code, attempt, retryInMs: waitMs, giveUpInMs: left },
        "database unreachable at start; retrying",
      );
      await sleep(waitMs);
    }
  }
}
