// The next turn of the event loop, after I/O: setImmediate where it exists (Node, Bun, Deno),
// a MessageChannel message in browsers and workers (a 0 ms timer would be clamped to 4 ms).

type Task = () => void;

const immediate = (globalThis as { setImmediate?: (task: Task) => unknown }).setImmediate;

function viaMessageChannel(): (task: Task) => void {
  const queue: Task[] = [];
  const channel = new MessageChannel();
  (channel.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => {
    const task = queue.shift();
    task?.();
  };
  return (task) => {
    queue.push(task);
    channel.port2.postMessage(null);
  };
}

export const nextMacrotask: (task: Task) => void = immediate
  ? (task) => void immediate(task)
  : typeof MessageChannel === "function"
    ? viaMessageChannel()
    : (task) => void setTimeout(task, 0);
