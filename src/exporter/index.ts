/** /metrics, /healthz and /readyz on the agent's listener (docs/metrics.md). */
import { plain, type Route } from '../web/server.js';
import { createExporter, type ExporterDeps } from './exporter.js';
import { readinessText } from './readiness.js';

export type { ExporterDeps } from './exporter.js';

/** The exporter's routes; subscribes to `deps.live`, so call it once per process (as `wmn run` does). */
export function exporterRoutes(deps: ExporterDeps): Route[] {
  const exporter = createExporter(deps);
  return [
    {
      path: '/metrics',
      handler: async (_req, res) => {
        const body = await exporter.metrics();
        res.writeHead(200, { 'content-type': exporter.contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
    },
    // Live: the process answers. Nothing else is checked, so a database outage never restarts wmn.
    { path: '/healthz', open: true, handler: (_req, res) => plain(res, 200, 'ok\n') },
    {
      path: '/readyz',
      handler: async (_req, res) => {
        const checks = await exporter.ready();
        const ready = checks.every((c) => c.ok);
        plain(res, ready ? 200 : 503, readinessText(checks), { 'cache-control': 'no-store' });
      },
    },
  ];
}
