// Logging through pino: the application's logger (configure({ logger })), or a silent one.
// Each session and target logs through a child logger that carries its name.

import { pino, type Logger } from "pino";
import { config } from "./config.js";

const silent = pino({ level: "silent" });

/** A child of the configured logger (looked up at each call, so configure() applies at once). */
export function logger(bindings: Record<string, unknown>): Logger {
  return (config().logger ?? silent).child(bindings);
}
