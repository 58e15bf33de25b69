/** Another process keeping every core busy: the "machine is busy" condition of the cadence bar. */
import { cpus } from 'node:os';
import { start, stop } from './children.js';

/** Starts one busy loop per core (plain Node, same priority as wmn); call the result to stop them. */
export function loadAllCores(): () => Promise<void> {
  const loops = cpus().map(() => start(process.execPath, ['-e', 'for (;;) {}']));
  return async () => {
    await Promise.all(loops.map((loop) => stop(loop)));
  };
}
