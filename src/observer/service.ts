// The observer's side of the page sessions. Each page opens a Cap'n Web session of its own and
// asks `next(cursor)`; the answer goes out when there is something new: at once for the first
// call, after a crash, restart or reconnect (within `EVENT_DELAY_MS`), and otherwise once per
// `intervalMs`. The page asks again as soon as it has drawn, so updates flow without the page
// polling a URL and without the server calling into the page (calls the server made would show
// in the very call telemetry the page draws).
//
// Nothing runs while no page is connected: the first page starts the telemetry listeners and the
// timer, the last one to leave stops them.

import { inspect, type Inspectable, type TreeInspection } from "../actors/inspect.js";
import { CapnWebError } from "../protocol/errors.js";
import { Target } from "../protocol/target.js";
import { ObserverHistory, type HistoryOptions } from "./history.js";
import { collectTables, dropConnectionAt, restartChildAt, stopChildAt } from "./live-tree.js";
import type { ObserverSnapshot } from "./snapshot.js";

/** An early push after an event waits this long, so that a burst (a one_for_all restart) is one update. */
const EVENT_DELAY_MS = 50;

export interface ObserverServiceOptions extends HistoryOptions {
  /** Milliseconds between updates while a page is open (default 1,000). */
  intervalMs?: number;
  /** Whether pages may restart and stop children and drop connections (default false). */
  controls?: boolean;
}

interface Waiter {
  cursor: number;
  resolve: (snapshot: ObserverSnapshot) => void;
  reject: (error: unknown) => void;
}

export class ObserverService {
  private readonly history: ObserverHistory;
  private readonly pages = new Set<ObserverPageApi>();
  private readonly waiters = new Set<Waiter>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private early: ReturnType<typeof setTimeout> | undefined;
  readonly controls: boolean;

  constructor(
    private readonly root: Inspectable,
    private readonly options: ObserverServiceOptions = {},
  ) {
    this.controls = options.controls === true;
    this.history = new ObserverHistory(options, () => this.pushSoon());
  }

  /** Pages connected now. */
  get pageCount(): number {
    return this.pages.size;
  }

  /** Whether the observer listens to telemetry and runs its timer (only while a page is open). */
  get isActive(): boolean {
    return this.history.isListening || this.timer !== undefined;
  }

  /** A new page session's main object. */
  openPage(): ObserverPageApi {
    const page = new ObserverPageApi(this);
    this.pages.add(page);
    if (this.pages.size === 1) {
      this.history.start();
      this.timer = setInterval(() => this.push(), this.options.intervalMs ?? 1_000);
      this.timer.unref?.();
    }
    return page;
  }

  /** @internal */
  closePage(page: ObserverPageApi): void {
    if (!this.pages.delete(page)) return;
    for (const waiter of this.waiters) if (page.owns(waiter)) this.waiters.delete(waiter);
    if (this.pages.size > 0) return;
    this.history.stop();
    clearInterval(this.timer);
    clearTimeout(this.early);
    this.timer = this.early = undefined;
  }

  /** Closes every page's wait (the observer is closing). */
  close(): void {
    for (const page of [...this.pages]) this.closePage(page);
  }

  snapshot(cursor: number): ObserverSnapshot {
    const tree: TreeInspection = inspect(this.root);
    const { made, served } = this.history.calls();
    return {
      at: Date.now(),
      tree,
      tables: collectTables(this.root, tree),
      calls: made,
      served,
      log: this.history.logAfter(cursor),
      controls: this.controls,
    };
  }

  /** @internal */
  wait(waiter: Waiter): void {
    this.waiters.add(waiter);
  }

  private pushSoon(): void {
    this.early ??= setTimeout(() => {
      this.early = undefined;
      this.push();
    }, EVENT_DELAY_MS);
  }

  private push(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    let snapshot: ObserverSnapshot;
    try {
      // One tree walk per update, whatever the number of pages; only the log differs by cursor.
      snapshot = this.snapshot(Number.MAX_SAFE_INTEGER);
    } catch (error) {
      // A child whose inspect() throws must not take the application down from a timer: the
      // pages are told, and ask again.
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const waiter of waiters) waiter.resolve({ ...snapshot, log: this.history.logAfter(waiter.cursor) });
  }

  /** @internal */
  assertControls(action: string): void {
    if (!this.controls) {
      throw new CapnWebError("forbidden", `The observer's controls are off: ${action} needs observe(root, { controls: true }).`);
    }
  }

  /** @internal */
  get observed(): Inspectable {
    return this.root;
  }
}

/** What one page may call: its own session's main object. */
export class ObserverPageApi extends Target {
  private readonly mine = new Set<Waiter>();
  private answered = false;

  constructor(private readonly service: ObserverService) {
    super();
  }

  /** @internal */
  owns(waiter: Waiter): boolean {
    return this.mine.has(waiter);
  }

  /**
   * The next update, with the log entries after `cursor` (a log `seq`; 0 for all). The first
   * call answers at once; later ones when there is something new.
   */
  next(cursor: number): ObserverSnapshot | Promise<ObserverSnapshot> {
    const after = Number.isSafeInteger(cursor) ? cursor : 0;
    if (!this.answered) {
      this.answered = true;
      return this.service.snapshot(after);
    }
    return new Promise<ObserverSnapshot>((resolve, reject) => {
      const waiter: Waiter = {
        cursor: after,
        resolve: (snapshot) => {
          this.mine.delete(waiter);
          resolve(snapshot);
        },
        reject: (error) => {
          this.mine.delete(waiter);
          reject(error);
        },
      };
      this.mine.add(waiter);
      this.service.wait(waiter);
    });
  }

  /** Restarts the child at `path` as a crash would (counted against its supervisor's intensity). */
  async restartChild(path: string[]): Promise<void> {
    this.service.assertControls("restartChild");
    await restartChildAt(this.service.observed, checkedPath(path));
  }

  /** Stops the child at `path`; it stays listed, not running, until restarted. */
  async stopChild(path: string[]): Promise<void> {
    this.service.assertControls("stopChild");
    await stopChildAt(this.service.observed, checkedPath(path));
  }

  /** Drops the connection of the session at `path` (a client session reconnects by its policy). */
  dropConnection(path: string[]): void {
    this.service.assertControls("dropConnection");
    dropConnectionAt(this.service.observed, checkedPath(path));
  }

  [Symbol.dispose](): void {
    this.service.closePage(this);
  }
}

function checkedPath(path: unknown): string[] {
  if (!Array.isArray(path) || path.length === 0 || path.length > 64 || !path.every((id) => typeof id === "string")) {
    throw new CapnWebError("invalid_argument", "A path is a non-empty array of child ids.");
  }
  return path;
}
