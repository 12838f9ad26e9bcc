// A registry of unique names, as OTP's Registry with unique keys: a name maps to one live value,
// is freed automatically when that value's life ends, and a lookup of a free name says so
// rather than throwing.

export class RegistryError extends Error {
  constructor(
    readonly code: "already_registered",
    message: string,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

export class Registry<V = unknown> {
  private readonly entries = new Map<unknown, V>();

  constructor(readonly name = "registry") {}

  /**
   * Registers `value` under `key`. When `ended` settles, the key is freed (if it still maps to
   * this value). Throws `already_registered` if the key is taken.
   */
  register(key: unknown, value: V, ended?: PromiseLike<unknown>): void {
    if (this.entries.has(key)) {
      throw new RegistryError("already_registered", `${this.name}: ${String(key)} is already registered.`);
    }
    this.entries.set(key, value);
    ended?.then(
      () => this.unregister(key, value),
      () => this.unregister(key, value),
    );
  }

  /** Frees `key` (only if it maps to `value`, when one is given). */
  unregister(key: unknown, value?: V): void {
    if (value === undefined || this.entries.get(key) === value) this.entries.delete(key);
  }

  lookup(key: unknown): V | undefined {
    return this.entries.get(key);
  }

  has(key: unknown): boolean {
    return this.entries.has(key);
  }

  keys(): IterableIterator<unknown> {
    return this.entries.keys();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A name: a plain key in the default registry, or `{ via: [registry, key] }` in another. */
export type Name = string | symbol | { via: readonly [Registry<unknown>, unknown] };

export function resolveName(name: Name, defaultRegistry: Registry<unknown>): { registry: Registry<unknown>; key: unknown } {
  if (typeof name === "object" && name !== null && "via" in name) {
    const [registry, key] = name.via;
    if (!(registry instanceof Registry)) throw new TypeError("A { via: [registry, key] } name needs a CapnWeb.Registry.");
    return { registry, key };
  }
  return { registry: defaultRegistry, key: name };
}

export function nameToString(name: Name): string {
  if (typeof name === "object") return `${name.via[0].name}:${String(name.via[1])}`;
  return String(name);
}
