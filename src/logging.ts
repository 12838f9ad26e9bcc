// Logging through the application's pino logger (configure({ logger })), or nowhere. Each
// session and target logs through a child logger that carries its name. Without a configured
// logger nothing is built at all: no pino instance (so a browser bundle carries no pino), no
// child per call.

import { config } from "./config.js";

/** What the library writes to: a pino logger or a child of one. */
export interface LogSink {
  trace(object: object, message?: string): void;
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  fatal(object: object, message?: string): void;
}

const silent: LogSink = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };

/** A child of the configured logger (looked up at each call, so configure() applies at once). */
export function logger(bindings: Record<string, unknown>): LogSink {
  const configured = config().logger;
  return configured ? configured.child(bindings) : silent;
}

function noop(): void {}
