// A long-lived root stub over HTTP batch. Each batch is its own Cap'n Web session (that is what
// the HTTP batch transport is: one request, one session), so the root starts a new session for
// every group of calls made in the same turn of the event loop. One group is one POST, however
// many calls and pipelines it holds. Capabilities obtained in a batch die with it.

import { ForwardingHook, type Hook } from "../protocol/hooks.js";
import { RpcSession, type SessionOptions, type SessionStats } from "../protocol/session.js";
import { HttpBatchClientTransport, type HttpBatchOptions } from "../transports/http-batch-client.js";

export class HttpBatchClient {
  private current: RpcSession | undefined;
  private currentTransport: HttpBatchClientTransport | undefined;

  constructor(
    readonly url: string,
    private readonly options: HttpBatchOptions & SessionOptions,
    private readonly main: unknown,
  ) {}

  /** The main interface of the batch being assembled now (a new batch when the last one left). */
  mainHook(): Hook {
    let session = this.current;
    // A batch that has gone out takes no more calls: they start the next one.
    if (!session || session.isEnded || this.currentTransport?.sent) {
      const { headers, timeout, ...sessionOptions } = this.options;
      const transport = new HttpBatchClientTransport(this.url, { headers, timeout });
      session = new RpcSession(transport, this.main, sessionOptions);
      const started = session;
      transport.start({ frame: (text) => started.receive(text), closed: (error) => started.transportClosed(error), abort: (error) => started.abort(error) });
      this.current = session;
      this.currentTransport = transport;
    }
    return session.remoteMainHook();
  }

  /** The tables of the batch in progress (a batch holds nothing once it has ended). */
  stats(): SessionStats {
    const session = this.current;
    return session && !session.isEnded ? session.stats() : { imports: 0, exports: 0 };
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
  }
}

/** The root stub's hook: every operation goes to the current batch's main interface. */
export class HttpBatchRootHook extends ForwardingHook {
  constructor(client: HttpBatchClient) {
    super(() => client.mainHook());
  }
}
