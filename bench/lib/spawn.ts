// Child processes of the benchmark: TypeScript through tsx, with an IPC channel.

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

export function spawnTs(script: string, args: string[], nodeFlags: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, "--import", "tsx", script, ...args], {
    cwd: REPO,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** The next IPC message from `child` that `accept` takes; rejects if the child exits first. */
export function nextMessage<T>(child: ChildProcess, accept: (message: any) => boolean = () => true, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no message from child ${child.pid} in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: any) => {
      if (accept(message)) finish(undefined, message);
    };
    const onExit = (code: number | null, signal: string | null) => finish(new Error(`child ${child.pid} exited (${code ?? signal}) before answering`));
    function finish(error?: Error, message?: T) {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(message as T);
    }
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
