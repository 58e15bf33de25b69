/**
 * Opens wmn's store: the PostgreSQL server the configuration names, or else the embedded server in the
 * data directory. Opening does not migrate: `wmn migrate` and `wmn run` call {@link Store.migrate}.
 */
import type { DatabaseConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { describeServer } from './describe.js';
import { startEmbedded } from './embedded.js';
import { createPostgresStore } from './postgres.js';
import type { Store } from './types.js';

export type {
  AgentRegistration,
  CycleRecord,
  MigrationReport,
  Queryable,
  Store,
  StoreDescription,
} from './types.js';
export { StoreError } from './types.js';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  readonly database: DatabaseConfig;
  /** wmn's state directory: the embedded server's home. */
  readonly dataDir: string;
  /** This agent's name, given to the rows an upgrade of the original table adopts. */
  readonly agent: string;
  readonly log: Logger;
  /** Where the migrations are; tests point this at their own. */
  readonly migrationsDir?: URL;
  /** A short-lived reader: may use an embedded server another running wmn owns (see startEmbedded). */
  readonly guest?: boolean;
}

/**
 * A store over `database.url` (connecting lazily, so the agent starts even while the server is down),
 * or over the embedded server, started (or adopted) before this resolves and stopped by `close()`.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { database, agent, migrationsDir } = opts;
  if (database.url !== null) {
    const log = opts.log.child({ store: 'server' });
    const connection = { connectionString: database.url };
    return createPostgresStore({
      connection,
      describe: describeServer(database.url),
      agent,
      log,
      migrationsDir,
    });
  }
  const log = opts.log.child({ store: 'embedded' });
  const server = await startEmbedded({
    dataDir: opts.dataDir,
    port: database.embeddedPort,
    log,
    guest: opts.guest,
  });
  return createPostgresStore({
    connection: server.connection(),
    describe: server.describe,
    agent,
    log,
    migrationsDir,
    onClose: () => server.stop(),
  });
}

/**
 * The store as the writer should see it: the schema is migrated before the first write, and a migration
 * that fails (the server is down as the agent starts: a power cut brings both back at once) is retried
 * on the next write instead of stopping the agent. Until then writes fail, and the writer keeps the
 * cycles in its spool.
 */
export function migrateBeforeWrites(
  store: Store,
  log: Logger,
  /** Runs once the schema is current, before the first write (the agent registers itself here). */
  afterMigrate: () => Promise<void>,
): Pick<Store, 'writeCycle'> {
  let migrated: Promise<unknown> | null = null;
  const ensure = () => {
    migrated ??= store.migrate().then(
      async (report) => {
        if (report.applied.length > 0) log.info('schema migrated', { applied: report.applied.join(',') });
        await afterMigrate();
      },
      (err: unknown) => {
        migrated = null;
        throw err;
      },
    );
    return migrated;
  };
  return {
    async writeCycle(cycle) {
      await ensure();
      return store.writeCycle(cycle);
    },
  };
}
