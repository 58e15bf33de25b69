/**
 * The dashboard: the page (`/`), its assets (`/assets/…`, uPlot included: nothing from a CDN), its JSON
 * API (`/api/…`, src/web/api.ts) and its live events (`/api/events`, src/web/events.ts). What it shows
 * and how to reach it: docs/dashboard.md.
 */
import { apiHandler } from './api.js';
import { eventsHandler } from './events.js';
import type { RouteDeps } from './routes.js';
import type { Route } from './server.js';
import { loadAssets, staticHandlers } from './static.js';

export function dashboardRoutes(deps: RouteDeps): Route[] {
  const files = staticHandlers(() => loadAssets());
  return [
    { path: '/', handler: files.page },
    { path: '/assets/', handler: files.asset },
    { path: '/api/events', handler: eventsHandler(deps) },
    { path: '/api/', handler: apiHandler(deps) },
  ];
}
