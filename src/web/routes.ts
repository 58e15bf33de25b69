/** Everything the listener serves, from what `wmn run` has running. */
import type { Agent } from '../agent/agent.js';
import type { Config } from '../config/types.js';
import { exporterRoutes } from '../exporter/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { dashboardRoutes } from './dashboard.js';
import type { LiveHub } from './live.js';
import type { Route } from './server.js';

export interface RouteDeps {
  /** The configuration running now (it changes on reload). */
  readonly config: () => Config;
  readonly store: Store;
  readonly live: LiveHub;
  readonly agent: Agent;
  readonly log: Logger;
}

export function allRoutes(deps: RouteDeps): Route[] {
  return [...exporterRoutes(deps), ...dashboardRoutes(deps)];
}
