/**
 * A probe's one deadline and its caller's abort as a single signal, whose reason tells them apart: a
 * deadline passing is a fact about the network (a lookup still unanswered is `dns`), the caller
 * stopping the probe says nothing about it.
 */

/** The abort reason when the probe's own deadline passed. */
export const DEADLINE = Symbol('deadline');
/** The abort reason when the caller stopped the probe. */
export const ABORTED = Symbol('aborted');

/**
 * A signal that aborts with {@link DEADLINE} after `timeoutMs` and with {@link ABORTED} when `outer`
 * aborts (at once if it already has); `dispose` releases the timer and the listener.
 */
export function deadlineSignal(
  timeoutMs: number,
  outer: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort(ABORTED);
  const timer = setTimeout(() => controller.abort(DEADLINE), timeoutMs);
  if (outer.aborted) abort();
  outer.addEventListener('abort', abort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      outer.removeEventListener('abort', abort);
    },
  };
}
