/**
 * The system service: deploy/wmn-agent.service is checked by systemd's own tools, and deploy/install.sh
 * is run for real into a temporary `--root` (never the host: no user, unit or file outside that root
 * is touched, which the tests check too).
 *
 * `systemd-analyze verify` insists that ExecStart's program exists and is executable. The unit names
 * /usr/local/bin/wmn, which exists only inside the staged root, and `verify --root` would need a whole
 * systemd tree in there. So the unit is verified as installed, byte for byte, except for ExecStart's
 * program path, which points at the staged binary; a second copy with a missing program proves that
 * verify does check it.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  appendFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { need } from './helpers/env.js';
import { NOT_BUILT, WMN_BUILT } from './helpers/wmn.js';

const exec = promisify(execFile);
const CHECKOUT = new URL('..', import.meta.url).pathname;
const INSTALL = join(CHECKOUT, 'deploy/install.sh');
const UNIT_SOURCE = join(CHECKOUT, 'deploy/wmn-agent.service');
const UNIT = 'wmn-agent.service';

const works = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const HAS_ANALYZE = works('systemd-analyze', ['--version']);
const HAS_NPM = works('npm', ['--version']);
const IS_ROOT = process.getuid?.() === 0;

// --- running things -----------------------------------------------------------------------------------

interface Ran {
  readonly code: number;
  readonly out: string;
}

async function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Ran> {
  try {
    const options = { env: { ...process.env, ...env }, cwd, maxBuffer: 8 << 20 };
    const { stdout, stderr } = await exec(cmd, args, options);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * install.sh into `root`. npm prefers its cache (CI's `npm ci` filled it with every dependency), so the
 * install needs the registry only for what the cache lacks.
 */
function install(root: string, ...args: string[]): Promise<Ran> {
  return runTool(INSTALL, [...args, '--root', root, '--no-systemctl'], {
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
  });
}

/** Every path under `dir` with its type, mode, owner, size, mtime and link target, sorted. */
async function snapshot(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const rel of await readdir(dir, { recursive: true })) {
    const path = join(dir, rel);
    const s = await lstat(path);
    const target = s.isSymbolicLink() ? await readlink(path) : '';
    lines.push(`${rel} ${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.size} ${s.mtimeMs} ${target}`);
  }
  return lines.sort();
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** A root with its own passwd and group, as a system image has: install.sh may create wmn in it. */
async function imageRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'wmn-deploy-'));
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
  return root;
}

// --- the unit -------------------------------------------------------------------------------------------

/** `Key=value` settings of a unit file, comments and section headers dropped; repeated keys kept in order. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    settings.set(match[1], [...(settings.get(match[1]) ?? []), match[2] ?? '']);
  }
  return settings;
}

const REQUIRED: Record<string, string> = {
  ExecStart: '/usr/local/bin/wmn run --config /etc/wmn/wmn.yaml',
  Restart: 'on-failure',
  RestartPreventExitStatus: '2',
  KillSignal: 'SIGTERM',
  KillMode: 'mixed',
  User: 'wmn',
  Group: 'wmn',
  StateDirectory: 'wmn',
  ConfigurationDirectory: 'wmn',
  Environment: 'WMN_DATA_DIR=%S/wmn',
  StandardOutput: 'journal',
  StandardError: 'journal',
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectKernelLogs: 'yes',
  ProtectControlGroups: 'yes',
  RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
  RestrictNamespaces: 'yes',
  LockPersonality: 'yes',
  SystemCallArchitectures: 'native',
  // fping's raw ICMP sockets: the only capability (docs/service.md says why).
  CapabilityBoundingSet: 'CAP_NET_RAW',
  AmbientCapabilities: 'CAP_NET_RAW',
};

describe('wmn-agent.service', () => {
  it('runs wmn as the wmn user under the hardening the issue asks for', async () => {
    const settings = unitSettings(await readFile(UNIT_SOURCE, 'utf8'));
    for (const [key, value] of Object.entries(REQUIRED)) {
      assert.deepEqual(settings.get(key), [value], `${key}=${value}`);
    }
    // Node's JIT writes code and then runs it: MemoryDenyWriteExecute=yes would kill wmn at start.
    assert.equal(settings.get('MemoryDenyWriteExecute'), undefined);
    assert.equal(settings.get('DynamicUser'), undefined);
    const stopSeconds = Number(/^(\d+)s$/.exec(settings.get('TimeoutStopSec')?.[0] ?? '')?.[1]);
    assert.ok(stopSeconds >= 20, `TimeoutStopSec covers the ~15 s graceful drain (got ${stopSeconds}s)`);
    assert.ok(
      Number(/^(\d+)s$/.exec(settings.get('RestartSec')?.[0] ?? '')?.[1]) >= 1,
      'RestartSec paces restarts',
    );
  });

  it('is rated OK or better by systemd-analyze security', async (t) => {
    if (!need(t, HAS_ANALYZE, 'systemd-analyze is not installed (Debian: apt-get install systemd)')) return;
    const result = await runTool('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT_SOURCE]);
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(result.out)?.[1]);
    t.diagnostic(`systemd-analyze security: exposure ${score}`);
    assert.ok(score <= 2, `exposure ${score} (0 is best, 10 worst; 2.0 and below is "OK"):\n${result.out}`);
  });
});

// --- install.sh -------------------------------------------------------------------------------------

function needInstallTools(t: TestContext): boolean {
  return (
    need(t, IS_ROOT, 'install.sh runs as root') &&
    need(t, HAS_NPM, 'npm is not installed') &&
    need(t, works('useradd', ['--help']), 'useradd is not installed')
  );
}

/**
 * The package of the built checkout, packed without running its build again (`npm test` has built it):
 * the first install builds its own from the checkout, the others install this one with --tarball,
 * which keeps the file well under a minute.
 */
async function packBuilt(dir: string): Promise<string> {
  const ran = await runTool('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {}, CHECKOUT);
  assert.equal(ran.code, 0, ran.out);
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote no tarball:\n${ran.out}`);
  return join(dir, tarball);
}

describe('deploy/install.sh', () => {
  let root = '';
  let work = '';
  let tarball = '';
  let hostPasswd = '';

  before(async () => {
    root = await imageRoot();
    work = await mkdtemp(join(tmpdir(), 'wmn-deploy-pack-'));
    if (WMN_BUILT && HAS_NPM) tarball = await packBuilt(work);
    hostPasswd = await readFile('/etc/passwd', 'utf8');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('installs, reinstalls as a no-op, upgrades, uninstalls and purges a staged root', async (t) => {
    if (!needInstallTools(t) || !need(t, WMN_BUILT, NOT_BUILT)) return;
    await t.test('install: package, link, unit, config and the wmn user', async () => {
      const ran = await install(root);
      assert.equal(ran.code, 0, ran.out);
      await checkInstalled(root);
      assert.equal(await readFile('/etc/passwd', 'utf8'), hostPasswd, "the host's users are untouched");
    });
    await t.test('the installed unit passes systemd-analyze verify', async (t) => {
      if (!need(t, HAS_ANALYZE, 'systemd-analyze is not installed (Debian: apt-get install systemd)')) return;
      await checkVerify(root);
    });
    await t.test('install again: nothing changes, the edited config is kept', async () => {
      await appendFile(join(root, 'etc/wmn/wmn.yaml'), '# edited by the admin\n');
      const before = await snapshot(root);
      const ran = await install(root);
      assert.equal(ran.code, 0, ran.out);
      assert.deepEqual(await snapshot(root), before);
      assert.match(ran.out, /unchanged: .*wmn\.yaml/);
    });
    await t.test('upgrade: a new package, the config kept', async () => {
      const marker = join(root, 'opt/wmn/lib/node_modules/wmn/OLD');
      await writeFile(marker, '');
      const ran = await install(root, 'upgrade', '--tarball', tarball);
      assert.equal(ran.code, 0, ran.out);
      assert.equal(await exists(marker), false, 'the package was replaced');
      assert.match(await readFile(join(root, 'etc/wmn/wmn.yaml'), 'utf8'), /# edited by the admin\n$/);
      assert.deepEqual(await readdir(join(root, 'opt')), ['wmn'], 'no staging directory left behind');
    });
    await t.test('uninstall: removes what install put in, keeps config and state', async () => {
      await mkdir(join(root, 'var/lib/wmn/postgres'), { recursive: true });
      await writeFile(join(root, 'var/lib/wmn/postgres/PG_VERSION'), '18\n');
      const ran = await install(root, 'uninstall');
      assert.equal(ran.code, 0, ran.out);
      for (const gone of [`etc/systemd/system/${UNIT}`, 'usr/local/bin/wmn', 'opt/wmn']) {
        assert.equal(await exists(join(root, gone)), false, `${gone} removed`);
      }
      assert.match(await readFile(join(root, 'etc/wmn/wmn.yaml'), 'utf8'), /# edited by the admin/);
      assert.ok(await exists(join(root, 'var/lib/wmn/postgres/PG_VERSION')), 'the measurements are kept');
    });
    await t.test('uninstall --purge: config and state go too', async () => {
      const ran = await install(root, 'uninstall', '--purge');
      assert.equal(ran.code, 0, ran.out);
      assert.equal(await exists(join(root, 'etc/wmn')), false);
      assert.equal(await exists(join(root, 'var/lib/wmn')), false);
    });
  });

  it('creates no user in a root without its own passwd, and leaves the config root-only', async (t) => {
    if (!needInstallTools(t) || !need(t, WMN_BUILT, NOT_BUILT)) return;
    const bare = await mkdtemp(join(tmpdir(), 'wmn-deploy-bare-'));
    t.after(() => rm(bare, { recursive: true, force: true }));
    const ran = await install(bare, '--tarball', tarball);
    assert.equal(ran.code, 0, ran.out);
    assert.match(ran.out, /not creating the wmn user/);
    assert.equal(await exists(join(bare, 'etc/passwd')), false);
    const config = await lstat(join(bare, 'etc/wmn/wmn.yaml'));
    assert.equal(config.mode & 0o777, 0o640);
    assert.equal(config.gid, 0);
    assert.equal(await readFile('/etc/passwd', 'utf8'), hostPasswd, "the host's users are untouched");
  });

  it('fails clearly, and installs nothing, on bad input', async (t) => {
    if (!needInstallTools(t)) return;
    const bad = await runTool(INSTALL, ['reinstall']);
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /unknown argument 'reinstall'[\s\S]*Usage: install\.sh/);
    const image = await imageRoot();
    t.after(() => rm(image, { recursive: true, force: true }));
    const before = await snapshot(image);
    const missing = await install(image, '--tarball', join(image, 'no-such.tgz'));
    assert.equal(missing.code, 1, missing.out);
    assert.match(missing.out, /error: no such file: .*no-such\.tgz/);
    assert.deepEqual(await snapshot(image), before, 'nothing installed, no user created');
  });
});

async function checkInstalled(root: string): Promise<void> {
  assert.match(
    await readFile(join(root, 'etc/passwd'), 'utf8'),
    /^wmn:[^:]*:\d+:\d+:[^:]*:\/var\/lib\/wmn:/m,
  );
  const gid = /^wmn:[^:]*:(\d+):/m.exec(await readFile(join(root, 'etc/group'), 'utf8'))?.[1];
  const config = await lstat(join(root, 'etc/wmn/wmn.yaml'));
  assert.equal(config.mode & 0o777, 0o640, 'config is 0640');
  assert.equal(String(config.gid), gid, "config's group is the root's wmn group");
  assert.equal(
    await readFile(join(root, 'etc/wmn/wmn.yaml'), 'utf8'),
    await readFile(join(CHECKOUT, 'examples/wmn.yaml'), 'utf8'),
  );
  assert.equal(
    await readFile(join(root, `etc/systemd/system/${UNIT}`), 'utf8'),
    await readFile(UNIT_SOURCE, 'utf8'),
  );
  assert.equal(await readlink(join(root, 'usr/local/bin/wmn')), '/opt/wmn/bin/wmn');
  const version = await runTool(join(root, 'opt/wmn/bin/wmn'), ['--version']);
  const pkg = JSON.parse(await readFile(join(CHECKOUT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.out.trim(), pkg.version, 'the staged wmn runs');
}

async function checkVerify(root: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wmn-verify-'));
  try {
    const installed = await readFile(join(root, `etc/systemd/system/${UNIT}`), 'utf8');
    const staged = installed.replace(
      /^ExecStart=\/usr\/local\/bin\/wmn /m,
      `ExecStart=${root}/opt/wmn/bin/wmn `,
    );
    assert.notEqual(staged, installed, 'ExecStart rewritten');
    await writeFile(join(dir, UNIT), staged);
    const ok = await runTool('systemd-analyze', ['verify', '--man=no', join(dir, UNIT)]);
    assert.equal(ok.code, 0, ok.out);
    assert.equal(ok.out.trim(), '', `verify is silent on a good unit:\n${ok.out}`);

    const broken = join(dir, 'broken', UNIT);
    await mkdir(join(dir, 'broken'));
    await writeFile(
      broken,
      installed.replace(/^ExecStart=\/usr\/local\/bin\/wmn /m, `ExecStart=${dir}/missing `),
    );
    const failed = await runTool('systemd-analyze', ['verify', '--man=no', broken]);
    assert.notEqual(failed.code, 0, 'verify rejects a unit whose program is missing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
