/**
 * Test clusters: several csync2 hosts on one machine, each running the real csync2 or ours.
 * (Overview and an example are in ./index.ts.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  chmod, lstat, mkdir, readdir, readFile, rm, symlink, utimes, writeFile,
} from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Stats } from 'node:fs';
import { CERT_FILE_NAME, KEY_FILE_NAME, generateCertificate, type CertificateFiles } from '../../src/net/cert.js';
import { hostCertificate } from './certs.js';
import { allocateSubnet, findFreePort, isListening, sleep, type Subnet } from './net.js';
import { implCommand, type Impl } from './paths.js';
import {
  DEFAULT_TIMEOUT_MS, ProcessTracker, onTestProcessExit, type RunResult, type TrackedProcess,
} from './procs.js';
import { dumpTable, sqliteQuery, type Csync2Table } from './sqlite.js';
import { treeSnapshot, type SnapshotOptions, type TreeSnapshot } from './tree.js';

export interface HostSpec {
  impl: Impl;
  /** Listed in parentheses in the group: only receives. */
  slave?: boolean;
}

export interface ClusterOptions {
  hosts: HostSpec[];
  /** TLS between hosts (default true); false adds `nossl * *;`. */
  tls?: boolean;
  /** Group statements after the host and key lines (default `include %data%;`). */
  groupBody?: string;
  /** Appended to the config at root level (more groups, prefixes, `nossl`, ...). */
  extraConfig?: string;
  /** The whole csync2.cfg text of one host, instead of the default config. */
  configFor?: (host: TestHost, cluster: Cluster) => string;
  /** Generate new certificates instead of taking them from the shared pool (slower). */
  freshCerts?: boolean;
  /** Group name in the default config (default `test`). */
  groupName?: string;
}

export interface HostRunOptions {
  /** Which csync2 runs this command (default: the host's current `impl`). */
  impl?: Impl;
  /** Added to (or, with value undefined, removed from) the environment. */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the host's root directory). */
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface DaemonOptions {
  /** `-ii` serves connections until stopped; `-iii` serves one connection, then exits (default `-ii`). */
  mode?: '-ii' | '-iii';
  impl?: Impl;
  /** More arguments after the mode (e.g. `-t`, `-l`). */
  extraArgs?: string[];
  /** Number of `-v` flags (default 1: the session log is useful when a test fails). */
  verbose?: number;
  env?: Record<string, string | undefined>;
  /** How long to wait for the listening socket (default 10 s). */
  readyTimeoutMs?: number;
  /** Killed (SIGKILL) after this long in any case; 0 = never (default 4 x the run timeout). */
  lifetimeMs?: number;
  /** A command the daemon runs under (e.g. strace and its options). */
  wrapper?: string[];
}

/** Processes whose parent is `pid` (from /proc/<pid>/stat: the field after the command name). */
async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Thrown when a daemon exits or never listens. */
export class DaemonStartError extends Error {
  constructor(message: string, readonly result: RunResult) {
    super(`${message}\n${formatRun(result)}`);
    this.name = 'DaemonStartError';
  }
}

/** A csync2 daemon started by a TestHost. */
export class Daemon {
  /** Resolves when the daemon has exited (never rejects). */
  readonly exited: Promise<RunResult>;

  constructor(readonly host: TestHost, readonly impl: Impl, readonly mode: '-ii' | '-iii',
    private readonly proc: TrackedProcess) {
    this.exited = proc.exited;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.running;
  }

  stdout(): Buffer {
    return this.proc.stdout();
  }

  stderr(): Buffer {
    return this.proc.stderr();
  }

  /**
   * Wait until the daemon has no child processes (a real csync2 forks one per session, which
   * commits its database after the client has gone); false when `timeoutMs` passed first.
   */
  async sessionsEnded(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running || (await childPids(this.pid)).length === 0) return true;
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
  }

  /** SIGTERM to its process group, SIGKILL after `graceMs`. */
  stop(graceMs = 2000): Promise<RunResult> {
    return this.proc.stop(graceMs);
  }

  /** A signal to its whole process group at once (SIGKILL for crash tests). */
  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }
}

/** Text generated for the default config; also usable from `configFor` to extend it. */
export interface ConfigParts {
  groupName: string;
  groupBody: string;
  extraConfig: string;
  tls: boolean;
}

export class TestHost {
  readonly name: string;
  readonly root: string;
  readonly dataDir: string;
  readonly sysDir: string;
  readonly dbDir: string;
  /** Default implementation of this host's commands; may be switched between runs. */
  impl: Impl;
  readonly slave: boolean;

  constructor(readonly cluster: Cluster, readonly index: number, spec: HostSpec) {
    this.name = cluster.subnet.address(index + 1);
    this.root = join(cluster.root, `h${index + 1}`);
    this.dataDir = join(this.root, 'data');
    this.sysDir = join(this.root, 'etc');
    this.dbDir = join(this.root, 'db');
    this.impl = spec.impl;
    this.slave = spec.slave ?? false;
  }

  get port(): number {
    return this.cluster.port;
  }

  /** The arguments every command of this host starts with. */
  baseArgs(): string[] {
    return ['-N', this.name, '-D', this.dbDir, '-p', String(this.port)];
  }

  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, CSYNC2_SYSTEM_DIR: this.sysDir };
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  }

  /** `csync2 -N <name> -D <dbDir> -p <port> ...args` with CSYNC2_SYSTEM_DIR set. */
  run(args: string[], opts: HostRunOptions = {}): Promise<RunResult> {
    const argv = [...implCommand(opts.impl ?? this.impl), ...this.baseArgs(), ...args];
    return this.cluster.tracker.run(argv, {
      env: this.env(opts.env), cwd: opts.cwd ?? this.root, input: opts.input, timeoutMs: opts.timeoutMs,
    });
  }

  /**
   * Starts a command without waiting for it (tracked and killed with the cluster). With
   * `stdin: 'pipe'` the caller talks to it through `proc.child.stdin` (e.g. `csync2 -i` sessions).
   */
  spawn(args: string[], opts: Omit<HostRunOptions, 'timeoutMs'> & { stdin?: 'pipe' | 'ignore' } = {}): TrackedProcess {
    const argv = [...implCommand(opts.impl ?? this.impl), ...this.baseArgs(), ...args];
    return this.cluster.tracker.spawn(argv, {
      env: this.env(opts.env), cwd: opts.cwd ?? this.root, input: opts.input, stdin: opts.stdin,
    });
  }

  /**
   * A raw TCP connection from this host's address to `server`'s daemon, as this host's csync2 client
   * would make it (so HELLO with this host's name passes the address check). Destroyed on cleanup.
   */
  connect(server: TestHost): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: server.name, port: server.port, localAddress: this.name });
      this.cluster.trackSocket(socket);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  /** Starts a daemon and resolves once it listens on this host's address and the cluster port. */
  async startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
    const impl = opts.impl ?? this.impl;
    const mode = opts.mode ?? '-ii';
    const verbose = opts.verbose ?? 1;
    const args = [...this.baseArgs(), mode, ...(verbose > 0 ? ['-' + 'v'.repeat(verbose)] : []), ...(opts.extraArgs ?? [])];
    if (await isListening(this.name, this.port)) {
      throw new Error(`${this.name}:${this.port} is already in use (another daemon of this host still running?)`);
    }
    const proc = this.cluster.tracker.spawn([...(opts.wrapper ?? []), ...implCommand(impl), ...args], { env: this.env(opts.env), cwd: this.root });
    const daemon = new Daemon(this, impl, mode, proc);
    const lifetime = opts.lifetimeMs ?? DEFAULT_TIMEOUT_MS * 4;
    if (lifetime > 0) {
      const timer = setTimeout(() => proc.kill('SIGKILL'), lifetime);
      timer.unref();
      void proc.exited.then(() => clearTimeout(timer));
    }
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
    for (;;) {
      if (!proc.running) throw new DaemonStartError(`daemon on ${this.name} exited before listening`, await proc.exited);
      if (await isListening(this.name, this.port)) return daemon;
      if (Date.now() > deadline) {
        const result = await proc.stop(500);
        throw new DaemonStartError(`daemon on ${this.name} did not listen on port ${this.port} in time`, result);
      }
      await sleep(10);
    }
  }

  /** `<dbDir>/<name>.db3`, or `<name>_<configName>.db3` for `-C configName`. */
  dbPath(configName?: string): string {
    return join(this.dbDir, configName ? `${this.name}_${configName}.db3` : `${this.name}.db3`);
  }

  /** All rows of a csync2 table (sorted, raw stored text). */
  dump(table: Csync2Table, configName?: string): Promise<string[][]> {
    return dumpTable(this.dbPath(configName), table);
  }

  /** Any read-only query on this host's database. */
  sql(query: string, configName?: string): Promise<string[][]> {
    return sqliteQuery(this.dbPath(configName), query);
  }

  /**
   * Absolute path of `rel` inside the data dir ('' = the data dir). Paths are byte strings (latin1);
   * use fromUtf8() from src/util/bytes for UTF-8 names.
   */
  path(rel: string): string {
    if (/[^\x00-\xff]/.test(rel)) throw new Error(`path ${JSON.stringify(rel)} is not a byte string (use fromUtf8)`);
    return rel === '' ? this.dataDir : `${this.dataDir}/${rel}`;
  }

  private fsPath(rel: string): Buffer {
    return Buffer.from(this.path(rel), 'latin1');
  }

  /** Writes a file (parent directories are created); string content is written as UTF-8. */
  async write(rel: string, content: string | Buffer, mode?: number): Promise<void> {
    await mkdir(Buffer.from(dirname(this.path(rel)), 'latin1'), { recursive: true });
    await writeFile(this.fsPath(rel), content, mode === undefined ? undefined : { mode });
    if (mode !== undefined) await chmod(this.fsPath(rel), mode); // umask does not apply to chmod
  }

  read(rel: string): Promise<Buffer> {
    return readFile(this.fsPath(rel));
  }

  async mkdir(rel: string, mode?: number): Promise<void> {
    await mkdir(this.fsPath(rel), { recursive: true });
    if (mode !== undefined) await chmod(this.fsPath(rel), mode);
  }

  async symlink(target: string, rel: string): Promise<void> {
    await mkdir(Buffer.from(dirname(this.path(rel)), 'latin1'), { recursive: true });
    await symlink(Buffer.from(target, 'latin1'), this.fsPath(rel));
  }

  rm(rel: string): Promise<void> {
    return rm(this.fsPath(rel), { recursive: true, force: true });
  }

  /** lstat of the entry, or null when it does not exist. */
  async stat(rel: string): Promise<Stats | null> {
    try {
      return await lstat(this.fsPath(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  chmod(rel: string, mode: number): Promise<void> {
    return chmod(this.fsPath(rel), mode);
  }

  /** Sets atime and mtime to `mtimeSeconds` (before 1970 too: node turns a negative number into "now", not a Date). */
  setMtime(rel: string, mtimeSeconds: number): Promise<void> {
    const t = mtimeSeconds < 0 ? new Date(mtimeSeconds * 1000) : mtimeSeconds;
    return utimes(this.fsPath(rel), t, t);
  }

  treeSnapshot(opts?: SnapshotOptions): Promise<TreeSnapshot> {
    return treeSnapshot(this.dataDir, opts);
  }

  /** Writes csync2.cfg (or csync2_<configName>.cfg). */
  writeConfig(text: string, configName?: string): Promise<void> {
    return writeFile(join(this.sysDir, configName ? `csync2_${configName}.cfg` : 'csync2.cfg'), text);
  }

  /** Installs TLS key and certificate (a fresh one when none is given); returns what was written. */
  async writeCertificate(files: CertificateFiles = generateCertificate()): Promise<CertificateFiles> {
    await writeFile(join(this.sysDir, KEY_FILE_NAME), files.keyPem, { mode: 0o600 });
    await writeFile(join(this.sysDir, CERT_FILE_NAME), files.certPem);
    return files;
  }

  /** The peer's pinned fingerprint format: upper-case hex of this host's certificate in DER. */
  async certificateHex(): Promise<string> {
    const pem = await readFile(join(this.sysDir, CERT_FILE_NAME), 'latin1');
    const base64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return Buffer.from(base64, 'base64').toString('hex').toUpperCase();
  }
}

/** A random key in the format of `csync2 -k` (64 characters of [A-Za-z0-9._] and a newline). */
export function randomKey(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';
  return [...randomBytes(64)].map((b) => chars[b & 63]).join('') + '\n';
}

export const KEY_FILE = 'csync2.key';

export class Cluster {
  readonly root: string;
  readonly hosts: TestHost[];
  readonly tracker = new ProcessTracker();
  /** Content of the group key file (same on every host). */
  readonly key = randomKey();
  readonly parts: ConfigParts;
  private cleaned = false;
  private readonly forgetExitHook: () => void;
  private readonly sockets = new Set<Socket>();

  private constructor(readonly subnet: Subnet, readonly port: number, opts: ClusterOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'csync2-ts-cluster-'));
    subnet.recordRoot(this.root);
    this.hosts = opts.hosts.map((spec, i) => new TestHost(this, i, spec));
    this.parts = {
      groupName: opts.groupName ?? 'test',
      groupBody: opts.groupBody ?? 'include %data%;',
      extraConfig: opts.extraConfig ?? '',
      tls: opts.tls ?? true,
    };
    const keep = Boolean(process.env.CSYNC2_TEST_KEEP);
    this.forgetExitHook = onTestProcessExit(() => {
      if (!keep) rmSync(this.root, { recursive: true, force: true });
      this.subnet.release();
    });
  }

  /** Builds the directories, key, certificates and configs (see createCluster). */
  static async create(opts: ClusterOptions): Promise<Cluster> {
    if (opts.hosts.length === 0) throw new Error('a cluster needs hosts');
    if (opts.hosts.length > 250) throw new Error('at most 250 hosts per cluster');
    const subnet = allocateSubnet();
    let cluster: Cluster | undefined;
    try {
      const port = await findFreePort(opts.hosts.map((_, i) => subnet.address(i + 1)));
      cluster = new Cluster(subnet, port, opts);
      for (const host of cluster.hosts) {
        for (const dir of [host.dataDir, host.sysDir, host.dbDir]) await mkdir(dir, { recursive: true });
        await writeFile(join(host.sysDir, KEY_FILE), cluster.key, { mode: 0o600 });
        await host.writeCertificate(hostCertificate(host.index, opts.freshCerts));
        await host.writeConfig(opts.configFor ? opts.configFor(host, cluster) : cluster.defaultConfig());
      }
      return cluster;
    } catch (err) {
      if (cluster) await cluster.cleanup();
      else subnet.release();
      throw err;
    }
  }

  host(nameOrIndex: string | number): TestHost {
    const host = typeof nameOrIndex === 'number' ? this.hosts[nameOrIndex] : this.hosts.find((h) => h.name === nameOrIndex);
    if (!host) throw new Error(`no host ${nameOrIndex} in this cluster`);
    return host;
  }

  /** The `host` statements of the group: masters plain, slaves in parentheses. */
  hostLines(hosts: TestHost[] = this.hosts): string {
    return hosts.map((h) => (h.slave ? `\thost (${h.name});` : `\thost ${h.name};`)).join('\n');
  }

  /** `prefix data { on <host>: <dataDir>; ... }` for every host. */
  prefixBlock(name = 'data'): string {
    return `prefix ${name}\n{\n${this.hosts.map((h) => `\ton ${h.name}: ${h.dataDir};`).join('\n')}\n}\n`;
  }

  /** The config every host gets unless `configFor` says otherwise. */
  defaultConfig(parts: Partial<ConfigParts> = {}): string {
    const p = { ...this.parts, ...parts };
    return `# csync2-ts test cluster ${this.root}\n`
      + `group ${p.groupName}\n{\n${this.hostLines()}\n\tkey ${KEY_FILE};\n`
      + `${p.groupBody.split('\n').map((l) => (l.trim() === '' ? '' : `\t${l.trim()}`)).join('\n')}\n}\n\n`
      + this.prefixBlock()
      + (p.tls ? '' : '\nnossl * *;\n')
      + (p.extraConfig ? `\n${p.extraConfig}\n` : '');
  }

  /** Rewrites every host's csync2.cfg (text, or a function of the host). */
  async writeConfig(text: string | ((host: TestHost) => string), configName?: string): Promise<void> {
    for (const host of this.hosts) await host.writeConfig(typeof text === 'string' ? text : text(host), configName);
  }

  /** Sockets made by TestHost.connect(), destroyed by cleanup(). */
  trackSocket(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Stops every process of the cluster, removes its files (unless CSYNC2_TEST_KEEP) and frees its subnet. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const socket of this.sockets) socket.destroy();
    await this.tracker.stopAll(1000);
    this.tracker.dispose();
    if (!process.env.CSYNC2_TEST_KEEP) await rm(this.root, { recursive: true, force: true });
    this.subnet.release();
    this.forgetExitHook();
  }
}

/** Builds a cluster; call `cleanup()` when done (e.g. in `after()`). */
export function createCluster(opts: ClusterOptions): Promise<Cluster> {
  return Cluster.create(opts);
}

export interface SyncOnceOptions {
  /** `-v` count of the one-shot daemons (default 1). */
  daemonVerbose?: number;
  /** Implementation of the daemons (default: each server's `impl`). */
  serverImpl?: Impl;
  /** Implementation of the client command (default: the client's `impl`). */
  clientImpl?: Impl;
  /** Time limit of the client run, and of each daemon after the client has exited. */
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
}

export interface SyncResult {
  client: RunResult;
  /** The first (or only) server's daemon. */
  server: RunResult;
  servers: RunResult[];
  /** Per server: the client really connected (false = the daemon was released with a BYE). */
  connected: boolean[];
  /** Client and every daemon exited 0 and every server got its connection. */
  ok: boolean;
  /** Everything printed, for assertion messages. */
  text: string;
}

/**
 * One round like upstream's csync2_u: a one-shot `-iii` daemon on each server, then the client
 * command (default `-xv`), then wait for the daemons. A daemon the client never connected to is
 * released with a `BYE` (reported in `connected`).
 */
export async function syncOnce(client: TestHost, server: TestHost | TestHost[], args: string[] = ['-xv'],
  opts: SyncOnceOptions = {}): Promise<SyncResult> {
  const servers = Array.isArray(server) ? server : [server];
  const daemons: Daemon[] = [];
  try {
    for (const s of servers) {
      daemons.push(await s.startDaemon({ mode: '-iii', impl: opts.serverImpl, verbose: opts.daemonVerbose ?? 1, env: opts.env }));
    }
  } catch (err) {
    await Promise.all(daemons.map((d) => d.stop()));
    throw err;
  }
  const clientResult = await client.run(args, { impl: opts.clientImpl, timeoutMs: opts.timeoutMs, env: opts.env })
    .catch(async (err: unknown) => {
      await Promise.all(daemons.map((d) => d.stop()));
      throw err;
    });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const finished = await Promise.all(daemons.map((d) => finishOneShot(d, timeoutMs)));
  const serverResults = finished.map((f) => f.result);
  const connected = finished.map((f) => f.connected);
  const ok = clientResult.code === 0 && serverResults.every((r) => r.code === 0) && connected.every(Boolean);
  const text = [formatRun(clientResult, `client ${client.name}`),
    ...serverResults.map((r, i) => formatRun(r, `server ${servers[i]!.name}${connected[i] ? '' : ' (not connected)'}`))].join('\n');
  return { client: clientResult, server: serverResults[0]!, servers: serverResults, connected, ok, text };
}

/** After the client exited: wait for the one-shot daemon; release it if it still waits for a connection. */
async function finishOneShot(daemon: Daemon, timeoutMs: number): Promise<{ result: RunResult; connected: boolean }> {
  const { name, port } = daemon.host;
  const deadline = Date.now() + timeoutMs;
  let listeningSince = 0;
  while (daemon.running) {
    // A -iii daemon closes its listening socket when it accepts: still listening = never connected.
    // Allow a moment, in case the connection sits in the backlog.
    if (await isListening(name, port)) {
      listeningSince ||= Date.now();
      if (Date.now() - listeningSince > 300) {
        await sayBye(name, port);
        const result = await raceTimeout(daemon, 5000);
        return { result, connected: false };
      }
    } else {
      listeningSince = 0;
    }
    if (Date.now() > deadline) {
      const result = await daemon.stop(500);
      result.stderr = Buffer.concat([result.stderr, Buffer.from(`\n[harness: daemon killed after ${timeoutMs} ms]\n`)]);
      return { result, connected: true };
    }
    await sleep(10);
  }
  return { result: await daemon.exited, connected: true };
}

async function raceTimeout(daemon: Daemon, ms: number): Promise<RunResult> {
  const timer = setTimeout(() => void daemon.stop(500), ms);
  const result = await daemon.exited;
  clearTimeout(timer);
  return result;
}

function sayBye(host: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port }, () => socket.end('BYE\n'));
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', () => { /* drain */ });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

/** A run's exit status and output as text, for assertion messages. */
export function formatRun(result: RunResult, title = result.argv.join(' ')): string {
  const status = result.signal ? `signal ${result.signal}` : `exit ${result.code}`;
  return `=== ${title}: ${status} (${result.ms} ms)\n`
    + `--- stdout ---\n${result.stdout.toString('latin1')}--- stderr ---\n${result.stderr.toString('latin1')}`;
}
