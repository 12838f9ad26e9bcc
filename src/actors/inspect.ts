// inspect(root): a plain snapshot of a supervision tree, or of any single child.

import type { Inspection } from "../supervisor/child.js";

export function inspect(root: { inspect(): Inspection }): Inspection {
  return root.inspect();
}
