import { type Logger, pino } from "pino";

export type { Logger };

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured JSON logs on stderr, so stdout stays free for command output. */
export function createLogger(name: string, level: LogLevel): Logger {
  return pino({ name, level, base: { svc: name } }, pino.destination(2));
}
