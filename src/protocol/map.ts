// `stub.map(fn)`: the mapper runs once, here, on placeholders; every call it makes is recorded as
// an instruction instead of being sent. The instructions go out in one `remap`, and the peer runs
// them for each element. The reverse, applying a peer's `remap` to a local value, is below.
//
// Instruction numbering (protocol.md, "remap"): negative indexes are captures (-1 is the first),
// 0 is the element, positive n is the result of instruction n. Each instruction refers only to
// earlier ones; the last one is the mapper's result.

import { Decoder, Encoder, type Exporter, type Importer } from "./codec.js";
import { CapnWebError } from "./errors.js";
import { ErrorHook, Hook, PayloadHook, installMapApplier, type PropertyPath } from "./hooks.js";
import { type RemapBudget, remapBudgetOf } from "./limits.js";
import { Payload } from "./payload.js";
import { borrowedPromiseStub, installMapSender, setCallInterceptor, type CallInterceptor, type StubView } from "./stub.js";

// -----------------------------------------------------------------------------------------------
// Recording

/** A placeholder for a value that exists only while the mapper runs on the peer. */
class MapVariableHook extends Hook {
  constructor(
    readonly recorder: MapRecorder,
    readonly index: number,
  ) {
    super();
  }
  private misuse(): never {
    throw new CapnWebError(
      "invalid_argument",
      "A map() placeholder was used outside its mapper; a mapper must not keep or await what it is given.",
    );
  }
  call(_path: PropertyPath, args: Payload): Hook {
    args.dispose();
    this.misuse();
  }
  get(): Hook {
    this.misuse();
  }
  map(_path: PropertyPath, captures: Hook[]): Hook {
    for (const cap of captures) cap.dispose();
    this.misuse();
  }
  pull(): Payload {
    this.misuse();
  }
  dup(): Hook {
    return this;
  }
  dispose(): void {}
}

class MapRecorder implements Exporter {
  readonly instructions: unknown[] = [];
  /** Root recorder: the captured hooks (owned). Nested: indexes into the parent's numbering. */
  private readonly captures: (Hook | number)[] = [];
  private readonly captureIndex = new Map<Hook, number>();

  constructor(readonly parent: MapRecorder | undefined) {}

  /** The index by which instructions of this recorder refer to `hook`. */
  capture(hook: Hook): number {
    if (hook instanceof MapVariableHook && hook.recorder === this) return hook.index;
    let index = this.captureIndex.get(hook);
    if (index === undefined) {
      this.captures.push(this.parent ? this.parent.capture(hook) : hook.dup());
      index = -this.captures.length;
      this.captureIndex.set(hook, index);
    }
    return index;
  }

  recordCall(view: StubView, args: unknown[]): unknown {
    const encodedArgs = Encoder.encodeArgs(args, this);
    const subject = this.capture(view.liveHook());
    this.instructions.push(["pipeline", subject, view.path, encodedArgs]);
    return borrowedPromiseStub(new MapVariableHook(this, this.instructions.length));
  }

  /** Ends a nested recording: the parent gains one `remap` instruction. */
  finishNested(subject: number, path: PropertyPath, result: unknown): unknown {
    this.instructions.push(Encoder.encode(result, this));
    const parent = this.parent!;
    parent.instructions.push(["remap", subject, path, this.captures.map((index) => ["import", index]), this.instructions]);
    return borrowedPromiseStub(new MapVariableHook(parent, parent.instructions.length));
  }

  /** Ends the outermost recording: hands the program to the subject (sent, or applied locally). */
  finishRoot(subject: Hook, path: PropertyPath, result: unknown): Hook {
    try {
      this.instructions.push(Encoder.encode(result, this));
    } catch (error) {
      this.disposeCaptures();
      throw error;
    }
    return subject.map(path, this.captures as Hook[], this.instructions);
  }

  disposeCaptures(): void {
    if (this.parent) return;
    for (const cap of this.captures as Hook[]) cap.dispose();
  }

  // Exporter: inside a mapper every stub is a capture, and nothing new can be exported.
  importIdOf(hook: Hook): number {
    return this.capture(hook);
  }
  exportHook(): number {
    return cannotExport();
  }
  exportTarget(): number {
    return cannotExport();
  }
  exportPromise(): number {
    return cannotExport();
  }
  unexport(): void {}
  rewriteError(): void {}
}

function cannotExport(): never {
  throw new CapnWebError(
    "invalid_argument",
    "A mapper cannot create targets or functions; create the stub outside map() and use it inside.",
  );
}

let recording: MapRecorder | undefined;

const recordingInterceptor: CallInterceptor = {
  call: (view, args) => recording!.recordCall(view, args),
  map: (view, mapper) => {
    const parent = recording!;
    const subject = parent.capture(view.liveHook());
    const nested = new MapRecorder(parent);
    const result = runMapper(nested, mapper);
    return nested.finishNested(subject, view.path, result);
  },
};

function runMapper(recorder: MapRecorder, mapper: (value: any) => unknown): unknown {
  const outerRecorder = recording;
  const outerInterceptor = setCallInterceptor(recordingInterceptor);
  recording = recorder;
  let result: unknown;
  try {
    result = mapper(borrowedPromiseStub(new MapVariableHook(recorder, 0)));
  } finally {
    recording = outerRecorder;
    setCallInterceptor(outerInterceptor);
  }
  // Stubs are functions, so only a real promise (an async mapper) is caught here.
  if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
    (result as PromiseLike<unknown>).then(undefined, () => {});
    throw new CapnWebError("invalid_argument", "A map() callback cannot be async: it is recorded, not run here.");
  }
  return result;
}

/** Records `mapper` against the value at `path` of `subject`, and sends (or applies) it. */
export function recordMap(subject: Hook, path: PropertyPath, mapper: (value: any) => unknown): Hook {
  const recorder = new MapRecorder(undefined);
  let result: unknown;
  try {
    result = runMapper(recorder, mapper);
  } catch (error) {
    recorder.disposeCaptures();
    throw error;
  }
  return recorder.finishRoot(subject, path, result);
}

// -----------------------------------------------------------------------------------------------
// Applying a peer's remap to a local value

class MapApplicator implements Importer {
  private readonly variables: Hook[];

  constructor(
    private readonly captures: Hook[],
    input: Hook,
    readonly remapBudget: RemapBudget,
  ) {
    this.variables = [input];
  }

  get limits() {
    return this.remapBudget.limits;
  }

  run(instructions: unknown[]): Payload {
    try {
      if (instructions.length === 0) throw new CapnWebError("protocol", "A mapper must have at least one instruction.");
      this.remapBudget.spend(instructions.length);
      const last = instructions.length - 1;
      for (let i = 0; i < last; i++) {
        const payload = Decoder.decode(structuredClone(instructions[i]), this);
        this.variables.push(payload.soleHook() ?? new PayloadHook(payload));
      }
      return Decoder.decode(structuredClone(instructions[last]), this);
    } finally {
      for (const variable of this.variables) variable.dispose();
    }
  }

  importStub(): Hook {
    throw new CapnWebError("protocol", "A mapper instruction cannot introduce exports.");
  }
  importPromise(): Hook {
    throw new CapnWebError("protocol", "A mapper instruction cannot introduce promises.");
  }
  exportedHook(index: number): Hook | undefined {
    return index < 0 ? this.captures[-index - 1] : this.variables[index];
  }
}

function applyToElement(element: unknown, captures: Hook[], instructions: unknown[], budget: RemapBudget): Payload {
  return new MapApplicator(captures, new PayloadHook(Payload.fromApp(element)), budget).run(instructions);
}

installMapApplier({
  apply(input, _parent, captures, instructions) {
    try {
      const budget = remapBudgetOf(instructions);
      if (Array.isArray(input)) {
        const results: Payload[] = [];
        try {
          for (const element of input) results.push(applyToElement(element, captures, instructions, budget));
        } catch (error) {
          for (const result of results) result.dispose();
          throw error;
        }
        return new PayloadHook(Payload.combine(results));
      }
      if (input === null || input === undefined) return new PayloadHook(Payload.fromApp(input));
      return new PayloadHook(applyToElement(input, captures, instructions, budget));
    } catch (error) {
      return new ErrorHook(error);
    } finally {
      for (const cap of captures) cap.dispose();
    }
  },
});

installMapSender(recordMap);
