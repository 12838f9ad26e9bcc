// What the observer remembers between snapshots: the calls of the last minutes, second by
// second (those made through stubs here, and the peers' calls our exports answered), and a log
// of crashes, restarts, reconnects and releases. It listens to telemetry only while it is
// started (while a page is open): with no page, no channel has a subscriber, and every publish
// in the library stays a property read.

import * as telemetry from "../telemetry/attach.js";
import type { TelemetryEvent, TelemetryMessages } from "../telemetry/channels.js";
import { describeReason } from "../supervisor/child.js";
import type { CallSecond, ObserverLogEntry, ObserverLogKind } from "./snapshot.js";

export interface HistoryOptions {
  /** Seconds of call rates kept (default 300). */
  seconds?: number;
  /** Log entries kept (default 500). */
  logSize?: number;
}

const EVENTS = [
  "call:stop",
  "call:exception",
  "serve:stop",
  "serve:exception",
  "release:sent",
  "connection:up",
  "connection:down",
  "connection:reconnect",
  "connection:restored",
  "restore:failed",
  "supervisor:crash",
  "supervisor:restart",
  "supervisor:start_error",
  "supervisor:give_up",
] as const satisfies readonly TelemetryEvent[];

interface Second {
  at: number;
  calls: number;
  errors: number;
  totalMs: number;
  maxMs: number;
}

/** Calls counted per second, the last `seconds` of them kept. */
class CallRates {
  /** Seconds with calls, oldest first; gaps are filled when a snapshot is taken. */
  private readonly ring: Second[] = [];

  constructor(private readonly seconds: number) {}

  count(duration: number, failed: boolean): void {
    const at = Math.floor(Date.now() / 1000) * 1000;
    let second = this.ring.at(-1);
    if (!second || second.at !== at) {
      this.ring.push((second = { at, calls: 0, errors: 0, totalMs: 0, maxMs: 0 }));
      if (this.ring.length > this.seconds) this.ring.shift();
    }
    second.calls++;
    if (failed) second.errors++;
    second.totalMs += duration;
    if (duration > second.maxMs) second.maxMs = duration;
  }

  /** Every second from `first` to `last`, quiet seconds as zeros. */
  between(first: number, last: number): CallSecond[] {
    const out: CallSecond[] = [];
    let index = 0;
    while (index < this.ring.length && this.ring[index]!.at < first) index++;
    for (let at = first; at <= last; at += 1000) {
      const second = this.ring[index]?.at === at ? this.ring[index++] : undefined;
      out.push(
        second
          ? { at, calls: second.calls, errors: second.errors, meanMs: second.calls ? second.totalMs / second.calls : 0, maxMs: second.maxMs }
          : { at, calls: 0, errors: 0, meanMs: 0, maxMs: 0 },
      );
    }
    return out;
  }
}

let nextAttachId = 1;

export class ObserverHistory {
  private readonly seconds: number;
  private readonly logSize: number;
  private readonly made: CallRates;
  private readonly served: CallRates;
  private readonly log: ObserverLogEntry[] = [];
  private nextSeq = 1;
  private attachedAs: string | undefined;
  /** When the first page opened: the chart's window grows from there to `seconds`. */
  private since: number | undefined;

  constructor(
    options: HistoryOptions,
    /** Told of every log entry (the observer pushes early when something happened). */
    private readonly onLog: () => void,
  ) {
    this.seconds = options.seconds ?? 300;
    this.logSize = options.logSize ?? 500;
    this.made = new CallRates(this.seconds);
    this.served = new CallRates(this.seconds);
  }

  get isListening(): boolean {
    return this.attachedAs !== undefined;
  }

  start(): void {
    if (this.attachedAs) return;
    this.since ??= Date.now();
    this.attachedAs = `capnweb-otp:observer:${nextAttachId++}`;
    telemetry.attach(this.attachedAs, EVENTS, (event, message) => this.record(event, message));
  }

  stop(): void {
    if (!this.attachedAs) return;
    telemetry.detach(this.attachedAs);
    this.attachedAs = undefined;
  }

  private record(event: (typeof EVENTS)[number], message: TelemetryMessages[(typeof EVENTS)[number]]): void {
    switch (event) {
      case "call:stop":
      case "call:exception":
        this.made.count((message as TelemetryMessages["call:stop"]).duration, event === "call:exception");
        return;
      case "serve:stop":
      case "serve:exception":
        this.served.count((message as TelemetryMessages["serve:stop"]).duration, event === "serve:exception");
        return;
      case "release:sent": {
        const release = message as TelemetryMessages["release:sent"];
        // Every answered call releases its answer: that is traffic, not an event worth a line.
        if (release.reason === "resolved") return;
        this.append("release", release.name ?? "(unnamed session)", `import ${release.importId} released ×${release.refcount} (${release.reason})`);
        return;
      }
      case "connection:up": {
        const up = message as TelemetryMessages["connection:up"];
        this.append("connected", up.name, `connected to ${up.url}`);
        return;
      }
      case "connection:down": {
        const down = message as TelemetryMessages["connection:down"];
        this.append("disconnected", down.name, down.error.message);
        return;
      }
      case "connection:reconnect": {
        const again = message as TelemetryMessages["connection:reconnect"];
        this.append("reconnecting", again.name, `attempt ${again.attempt} in ${Math.round(again.delay)} ms`);
        return;
      }
      case "connection:restored": {
        const restored = message as TelemetryMessages["connection:restored"];
        this.append("restored", restored.name, `${restored.restored} restored, ${restored.failed} failed in ${Math.round(restored.duration)} ms`);
        return;
      }
      case "restore:failed": {
        const failed = message as TelemetryMessages["restore:failed"];
        this.append("restore_failed", failed.name, `${failed.restorable}: ${failed.error.message}`);
        return;
      }
      case "supervisor:crash": {
        const crash = message as TelemetryMessages["supervisor:crash"];
        this.append("crash", [...crash.path, crash.childId].join("/"), `${describeReason(crash.reason)} (${crash.restart})`);
        return;
      }
      case "supervisor:restart": {
        const restart = message as TelemetryMessages["supervisor:restart"];
        this.append("restart", [...restart.path, restart.childId].join("/"), `restarted (${restart.restarts} so far)`);
        return;
      }
      case "supervisor:start_error": {
        const failed = message as TelemetryMessages["supervisor:start_error"];
        this.append("start_error", [...failed.path, failed.childId].join("/"), `restart failed: ${describeReason({ error: failed.error })}`);
        return;
      }
      case "supervisor:give_up": {
        const gaveUp = message as TelemetryMessages["supervisor:give_up"];
        this.append("give_up", gaveUp.path.join("/"), `gave up after ${gaveUp.maxRestarts} restarts in ${gaveUp.maxSeconds} s: ${describeReason({ error: gaveUp.cause })}`);
        return;
      }
    }
  }

  private append(kind: ObserverLogKind, subject: string, message: string): void {
    this.log.push({ seq: this.nextSeq++, at: Date.now(), kind, subject, message });
    if (this.log.length > this.logSize) this.log.shift();
    this.onLog();
  }

  /**
   * Every second of the window ending now, oldest first, quiet seconds as zeros: the calls made
   * through stubs here, and the peers' calls served. The window is `seconds` long, or shorter (a
   * minute at least) while the observer has not listened that long.
   */
  calls(now = Date.now()): { made: CallSecond[]; served: CallSecond[] } {
    const last = Math.floor(now / 1000) * 1000;
    const listened = Math.ceil((now - (this.since ?? now)) / 1000) + 1;
    const first = last - (Math.min(this.seconds, Math.max(60, listened)) - 1) * 1000;
    return { made: this.made.between(first, last), served: this.served.between(first, last) };
  }

  /** Log entries after `seq`, oldest first. */
  logAfter(seq: number): ObserverLogEntry[] {
    const start = this.log.findIndex((entry) => entry.seq > seq);
    return start < 0 ? [] : this.log.slice(start);
  }
}
