// What the observer tests observe: a server API that hands out capabilities and keeps the ones
// it is given (so that both sides' tables hold something), and the calls of the observer's page
// session, as the page makes them.

import * as CapnWeb from "../../src/index.js";
import type { ObserverSnapshot } from "../../src/index.js";

/** The observer's page session (what src/observer/page/main.ts calls). */
export interface ObserverPage {
  next(cursor: number): ObserverSnapshot;
  restartChild(path: string[]): void;
  stopChild(path: string[]): void;
  dropConnection(path: string[]): void;
}

export class Reporter extends CapnWeb.Target {
  progress(percent: number) {
    return percent;
  }
}

export class Item extends CapnWeb.Target {
  constructor(readonly n: number) {
    super();
  }
  value() {
    return this.n;
  }
}

export class ObservedApi extends CapnWeb.Target {
  readonly kept: CapnWeb.Stub<Reporter>[] = [];
  square(i: number) {
    return i * i;
  }
  fail() {
    throw new Error("failing on purpose");
  }
  item(n: number) {
    return new Item(n);
  }
  authenticate(token: string) {
    return new Item(token.length);
  }
  /** Calls the reporter once and lets it go. */
  async track(reporter: CapnWeb.Stub<Reporter>) {
    await reporter.progress(50);
    return "tracking";
  }
  /** Keeps a reference of its own to the reporter, until dropAll. */
  keep(reporter: CapnWeb.Stub<Reporter>) {
    this.kept.push(reporter.dup());
    return this.kept.length;
  }
  dropAll() {
    for (const reporter of this.kept.splice(0)) CapnWeb.release(reporter);
  }
}

/** A Cap'n Web session to the observer's /rpc, as the page opens it. */
export function openPageSession(observer: CapnWeb.Observer): Promise<CapnWeb.Stub<ObserverPage>> {
  return CapnWeb.connect<ObserverPage>(new URL("rpc", observer.url.replace("http:", "ws:")).href);
}
