/**
 * Throw-away network namespaces (Linux, root, iproute2). Inside one, only loopback exists and
 * `/etc/resolv.conf` says `nameserver 127.0.0.1` unless told otherwise (`ip netns exec` bind-mounts
 * `/etc/netns/<name>/*` over `/etc`), so a lab DNS server on 127.0.0.1:53 becomes the system resolver for
 * every process run there: that is how a DNS delay reaches engines that resolve through the system (curl,
 * `dns.lookup`).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
let created = 0;

export interface Netns {
  readonly name: string;
  /** Starts `command` inside the namespace; it is killed by {@link Netns.close} if still running. */
  spawn(command: string, args: readonly string[], cwd?: string): ChildProcess;
  /** Runs `command` inside the namespace to completion and resolves with its stdout. */
  exec(command: string, args: readonly string[], cwd?: string): Promise<string>;
  /** Kills what was spawned, deletes the namespace and its /etc/netns directory. */
  close(): Promise<void>;
}

export interface NetnsOptions {
  /** The namespace's resolver (its `/etc/resolv.conf`); default 127.0.0.1, where a lab DNS server listens. */
  readonly nameserver?: string;
  /** A suffix naming the namespace's role (`wmnlab-<pid>-<n>-<label>`), for readable `ip netns list`. */
  readonly label?: string;
}

/**
 * Creates a namespace `wmnlab-<pid>-<n>` (with `-<label>` when given) with loopback up. Rejects without
 * root or iproute2.
 */
export async function createNetns(options: NetnsOptions = {}): Promise<Netns> {
  const name = `wmnlab-${process.pid}-${created++}${options.label ? `-${options.label}` : ''}`;
  const etcDir = `/etc/netns/${name}`;
  const children = new Set<ChildProcess>();
  // Should the test process die before close(), a namespace (and its /etc entry) would be left behind.
  const removeNow = () => {
    rmSync(etcDir, { recursive: true, force: true });
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  process.once('exit', removeNow);
  try {
    await removeStale();
    await run('ip', ['netns', 'add', name]);
    mkdirSync(etcDir, { recursive: true });
    // One quick attempt: a lab whose DNS server is down should fail a test fast, not after retries.
    writeFileSync(
      `${etcDir}/resolv.conf`,
      `nameserver ${options.nameserver ?? '127.0.0.1'}\noptions timeout:2 attempts:1\n`,
    );
    await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    removeNow();
    process.off('exit', removeNow);
    throw err;
  }
  return {
    name,
    spawn(command, args, cwd) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], { cwd, stdio: 'pipe' });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async exec(command, args, cwd) {
      return (await run('ip', ['netns', 'exec', name, command, ...args], { cwd })).stdout;
    },
    async close() {
      await Promise.all([...children].map(stop));
      removeNow();
      process.off('exit', removeNow);
    },
  };
}

/** Deletes the namespaces of lab runs whose process is gone (killed before it could clean up). */
async function removeStale(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const [, name, pid] of stdout.matchAll(/^(wmnlab-(\d+)-\d+(?:-[\w-]+)?)/gm)) {
    if (!name || isAlive(Number(pid))) continue;
    await run('ip', ['netns', 'delete', name]).catch(() => {});
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// --- links between lab namespaces -------------------------------------------------------------------

/** A veth pair `dev` in `ns` ↔ `peer` in `peerNs`, made inside them: none ever exists in the host's. */
export async function veth(ns: Netns, dev: string, peerNs: Netns, peer: string): Promise<void> {
  await ns.exec('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNs.name]);
}

/**
 * Turns duplicate address detection off in `ns`: link-local addresses (which `nodad` cannot reach) stay
 * tentative for a second after every link-up, and until then a router forwards no IPv6.
 */
export async function withoutDad(ns: Netns): Promise<void> {
  await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
}

/**
 * Brings `dev` up with `addresses` (CIDR, v4 or v6); idempotent, so it also restores a link taken down
 * (which loses its IPv6 addresses: keep_addr_on_down is off). `nodad`: usable at once.
 */
export async function setAddresses(ns: Netns, dev: string, addresses: readonly string[]): Promise<void> {
  await ns.exec('ip', ['link', 'set', dev, 'up']);
  for (const address of addresses) {
    const v6 = address.includes(':');
    await ns.exec('ip', [v6 ? '-6' : '-4', 'addr', 'replace', address, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }
}
