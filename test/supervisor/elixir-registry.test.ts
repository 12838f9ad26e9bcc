// Ported from Elixir's Registry tests with unique keys (elixir-lang/elixir
// lib/elixir/test/elixir/registry_test.exs and registry/unique_test.exs), each test named after
// the Elixir test it comes from. The registry here has unique keys only, one partition, and
// frees a name when the life it was registered with ends (Elixir: when the process exits); the
// tests that do not apply (duplicate keys, partitions, match specs, listeners, links, locks)
// are listed in the README.

import { describe, expect, it } from "vitest";
import { Registry, RegistryError, resolveName } from "../../src/supervisor/registry.js";
import { Harness, settle } from "./helpers.js";
import { killSupervisorsAfterEach, startDynamic } from "./otp-support.js";

killSupervisorsAfterEach();

describe("Registry.UniqueTest", () => {
  it("counts 0 keys in an empty registry", () => {
    expect(new Registry().size).toBe(0);
  });

  it("counts the number of keys in a registry", () => {
    const registry = new Registry<string>();
    registry.register("hello", "value");
    registry.register("world", "value");
    expect(registry.size).toBe(2);
  });

  it("has unique registrations", () => {
    const registry = new Registry<string>();
    registry.register("hello", "value");
    expect(registry.lookup("hello")).toBe("value");
    const refused = (() => {
      try {
        registry.register("hello", "other");
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(RegistryError);
    expect(refused).toMatchObject({ code: "already_registered" });
    expect(registry.lookup("hello")).toBe("value");
    registry.register("world", "value");
    expect([...registry.keys()].sort()).toEqual(["hello", "world"]);
  });

  it("has unique registrations across processes", async () => {
    // Two supervised children (Elixir: two processes) want the same name: the second start fails.
    const registry = new Registry<unknown>();
    const h = new Harness();
    const named = (id: string) => {
      const spec = h.spec(id);
      return {
        ...spec,
        start: async (context: Parameters<typeof spec.start>[0]) => {
          const child = await spec.start(context);
          if (child === "ignore") return child;
          registry.register("hello", child, child.exited);
          return child;
        },
      };
    };
    const sup = await startDynamic();
    const first = await sup.startChild(named("task"));
    await expect(sup.startChild(named("recent"))).rejects.toMatchObject({ code: "start_failed", cause: { code: "already_registered" } });
    expect(registry.lookup("hello")).toBe(first);
  });

  it("compares using ===", () => {
    // Elixir tells 1 from 1.0; JavaScript numbers cannot, so: a number key and a string key.
    const registry = new Registry<string>();
    registry.register(1, "value");
    registry.register("1", "value");
    expect([...registry.keys()]).toEqual([1, "1"]);
  });

  it("unregisters process by key", () => {
    const registry = new Registry<string>();
    registry.unregister("hello");
    registry.register("hello", "value");
    registry.register("world", "value");
    registry.unregister("hello");
    expect([...registry.keys()]).toEqual(["world"]);
    registry.unregister("world");
    expect([...registry.keys()]).toEqual([]);
  });

  it("unregisters with no entries", () => {
    const registry = new Registry();
    expect(() => registry.unregister("hello")).not.toThrow();
  });

  it("raises on unknown registry name", () => {
    expect(() => resolveName({ via: [{} as Registry, "hello"] }, new Registry())).toThrow(TypeError);
  });

  it("via callbacks", async () => {
    const registry = new Registry<unknown>("via");
    const { registry: found, key } = resolveName({ via: [registry, "hello"] }, new Registry());
    expect(found).toBe(registry);
    expect(key).toBe("hello");
    found.register(key, "agent");
    expect(registry.lookup("hello")).toBe("agent");
    // A second start under the same name is refused.
    expect(() => found.register(key, "another agent")).toThrow(RegistryError);
  });
});

describe("Registry.Test", () => {
  it("clean up registry on process crash", async () => {
    const registry = new Registry<unknown>();
    const h = new Harness();
    const sup = await startDynamic();
    for (const [id, key] of [["task1", "hello"], ["task2", "world"]] as const) {
      const child = await sup.startChild(h.spec(id, { restart: "temporary" }));
      registry.register(key, child, child!.exited);
    }
    h.current("task1").kill();
    h.current("task2").kill();
    await settle();
    expect(registry.size).toBe(0);
    expect(registry.lookup("hello")).toBeUndefined();
  });
});
