/**
 * What the benchmark must undo even when interrupted: databases it created, the embedded server it
 * started (pg_ctl's server is not our child, so killing children does not stop it). Processes are
 * stopped by children.ts, network namespaces by their own exit handler.
 */
const pending = new Set<() => Promise<void>>();

/** Runs `fn`, then `undo`; should the benchmark be interrupted meanwhile, {@link undoAll} runs `undo`. */
export async function withUndo<T>(undo: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
  let once: Promise<void> | undefined;
  const undoOnce = () => {
    once ??= undo();
    return once;
  };
  pending.add(undoOnce);
  try {
    return await fn();
  } finally {
    pending.delete(undoOnce);
    await undoOnce();
  }
}

/** Undoes everything still pending (on SIGINT/SIGTERM), whatever fails. */
export async function undoAll(): Promise<void> {
  await Promise.allSettled([...pending].map((undo) => undo()));
}
