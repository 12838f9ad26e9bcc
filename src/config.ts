// configure(): the application-wide defaults (the original's application config). Per-session
// and per-call options override them. Unknown keys and bad values are refused with a clear error.

import type { Logger } from "pino";
import { CapnWebError } from "./protocol/errors.js";

export interface Config {
  /** Default timeout of every awaited call, ms (undefined: none). */
  defaultTimeout: number | undefined;
  reconnectStrategy: "exponential" | "constant" | false;
  /** First reconnect delay, ms. */
  reconnectBaseDelay: number;
  /** Largest reconnect delay, ms. */
  reconnectMaxDelay: number;
  /** Prefix of the diagnostics_channel names (`capnweb:call:start`, ...). */
  telemetryPrefix: string;
  /** A pino logger; sessions and targets log through child loggers of it. Silent by default. */
  logger: Logger | undefined;
}

const defaults: Config = {
  defaultTimeout: undefined,
  reconnectStrategy: "exponential",
  reconnectBaseDelay: 100,
  reconnectMaxDelay: 30_000,
  telemetryPrefix: "capnweb",
  logger: undefined,
};

let current: Config = { ...defaults };
const listeners: ((config: Config) => void)[] = [];

const validators: { [K in keyof Config]: (value: unknown) => string | undefined } = {
  defaultTimeout: (v) => (v === undefined || (typeof v === "number" && v > 0 && Number.isFinite(v)) ? undefined : "a positive number of ms, or undefined"),
  reconnectStrategy: (v) => (v === "exponential" || v === "constant" || v === false ? undefined : '"exponential", "constant" or false'),
  reconnectBaseDelay: (v) => (typeof v === "number" && v >= 0 && Number.isFinite(v) ? undefined : "a number of ms >= 0"),
  reconnectMaxDelay: (v) => (typeof v === "number" && v >= 0 && Number.isFinite(v) ? undefined : "a number of ms >= 0"),
  telemetryPrefix: (v) => (typeof v === "string" && /^[\w.-]+$/.test(v) ? undefined : "a name of letters, digits, '_', '.', '-'"),
  logger: (v) =>
    v === undefined || (typeof v === "object" && v !== null && typeof (v as Logger).child === "function") ? undefined : "a pino logger",
};

/** Sets application-wide defaults; returns the full configuration in force. */
export function configure(options: Partial<Config>): Readonly<Config> {
  if (typeof options !== "object" || options === null) {
    throw new CapnWebError("invalid_argument", "configure() takes an object of settings.");
  }
  const next = { ...current };
  for (const key of Object.keys(options)) {
    if (!(key in validators)) {
      throw new CapnWebError("invalid_argument", `Unknown setting ${key} (known: ${Object.keys(validators).join(", ")}).`);
    }
    const value = (options as Record<string, unknown>)[key];
    const problem = validators[key as keyof Config](value);
    if (problem) throw new CapnWebError("invalid_argument", `${key} must be ${problem}, got ${String(value)}.`);
    (next as Record<string, unknown>)[key] = value;
  }
  if (next.reconnectBaseDelay > next.reconnectMaxDelay) {
    throw new CapnWebError("invalid_argument", `reconnectBaseDelay ${next.reconnectBaseDelay} exceeds reconnectMaxDelay ${next.reconnectMaxDelay}.`);
  }
  current = next;
  for (const listener of listeners) listener(current);
  return current;
}

/** The configuration in force. */
export function config(): Readonly<Config> {
  return current;
}

/** Runs `listener` now and after every change. */
export function onConfig(listener: (config: Config) => void): void {
  listeners.push(listener);
  listener(current);
}
