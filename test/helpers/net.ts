/**
 * Loopback addresses and ports for test clusters, safe when many test files run at once.
 *
 * - Every cluster gets its own /24 `127.<a>.<b>.0` (hosts .1, .2, ...). The whole 127/8 is loopback on
 *   Linux, so no set-up is needed. A subnet is reserved by creating a lock directory under the temp
 *   dir (atomic mkdir, owner pid inside; a lock whose owner is dead is taken over), so two test
 *   processes never share one. 127.0.x.x is left to hand-run experiments.
 * - The port is chosen below the kernel's ephemeral range: a client's source port (the csync2 client
 *   binds its source address to the cluster address) can then never take the port a daemon of the
 *   same cluster is about to listen on. Picked at random and checked by binding it on every address
 *   of the cluster (that also fails if anything listens on the wildcard address with that port).
 * - Readiness of a daemon is read from /proc/net/tcp (LISTEN state) instead of connecting: a `-iii`
 *   daemon serves exactly one connection, a probe would use it up.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_ROOT = join(tmpdir(), 'csync2-ts-test-subnets');

export interface Subnet {
  /** `127.a.b` (without the last part). */
  prefix: string;
  address(hostNumber: number): string;
  /** Remembers the cluster's directory, so that it is removed if this process dies without cleaning up. */
  recordRoot(dir: string): void;
  release(): void;
}

const ROOT_PREFIX = join(tmpdir(), 'csync2-ts-cluster-');

/** Leftovers of a test process that was killed (SIGKILL runs no exit hook). */
function removeStale(lockDir: string): void {
  try {
    const root = readFileSync(join(lockDir, 'root'), 'utf8');
    if (root.startsWith(ROOT_PREFIX)) rmSync(root, { recursive: true, force: true });
  } catch {
    // no directory recorded
  }
  rmSync(lockDir, { recursive: true, force: true });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(dir: string): boolean {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    } catch {
      // the owner may be between mkdir and writing its pid: treat it as alive
      return false;
    }
    if (Number.isInteger(owner) && pidAlive(owner)) return false;
    removeStale(dir);
    try {
      mkdirSync(dir);
    } catch {
      return false;
    }
  }
  writeFileSync(join(dir, 'pid'), String(process.pid));
  return true;
}

let swept = false;

/** Once per process: clear the locks (and directories) of test processes that died. */
function sweepStale(): void {
  if (swept) return;
  swept = true;
  for (const name of readdirSync(LOCK_ROOT)) {
    const dir = join(LOCK_ROOT, name);
    try {
      const owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) removeStale(dir);
    } catch {
      // being created right now, or already gone
    }
  }
}

/** Reserves a free `127.a.b.0/24` for one cluster. */
export function allocateSubnet(): Subnet {
  mkdirSync(LOCK_ROOT, { recursive: true });
  sweepStale();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const a = 64 + Math.floor(Math.random() * 190); // 64..253
    const b = Math.floor(Math.random() * 256);
    const prefix = `127.${a}.${b}`;
    const dir = join(LOCK_ROOT, prefix);
    if (!tryLock(dir)) continue;
    let released = false;
    return {
      prefix,
      address: (n) => `${prefix}.${n}`,
      recordRoot: (root) => writeFileSync(join(dir, 'root'), root),
      release: () => {
        if (released) return;
        released = true;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error('no free loopback subnet for a test cluster');
}

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    if (Number.isInteger(n) && n > 2000) return n;
  } catch {
    // not Linux: fall through
  }
  return 32768;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Ports that tests must not take: csync2's default and the range reserved for hand-run experiments. */
const RESERVED = (port: number): boolean => port === 30865 || (port >= 31000 && port < 32000);

/** A TCP port that is free on every given address, below the ephemeral range. */
export async function findFreePort(addresses: string[]): Promise<number> {
  const high = Math.min(ephemeralLow(), 65536) - 1;
  const low = Math.min(20000, high - 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (RESERVED(port)) continue;
    let free = true;
    for (const address of addresses) {
      if (!(await canBind(address, port))) {
        free = false;
        break;
      }
    }
    if (free) return port;
  }
  throw new Error(`no free TCP port for ${addresses.join(', ')}`);
}

/** `127.0.0.1:30865` as it appears in /proc/net/tcp: `0100007F:7891`. */
/** An IPv4 address and port as /proc/net/tcp writes them (little-endian hex address, hex port). */
export function procNetKey(address: string, port: number): string {
  const hex = address.split('.').map((p) => Number(p).toString(16).toUpperCase().padStart(2, '0')).reverse().join('');
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

const TCP_LISTEN = '0A';

/** The same for /proc/net/tcp6: an IPv4-mapped address (`::ffff:a.b.c.d`), or `::` for the wildcard. */
function procNet6Key(address: string, port: number): string {
  const v4 = address === '0.0.0.0' ? '' : procNetKey(address, port).split(':')[0]!;
  const addr = v4 === '' ? '0'.repeat(32) : `0000000000000000FFFF0000${v4}`;
  return `${addr}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

async function listeningIn(table: string, wanted: Set<string>): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(table, 'latin1');
  } catch {
    return false; // no IPv6 in this kernel
  }
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length > 3 && cols[3] === TCP_LISTEN && wanted.has(cols[1]!)) return true;
  }
  return false;
}

/** True if some socket listens on address:port (or on a wildcard address with that port). */
export async function isListening(address: string, port: number): Promise<boolean> {
  const v4 = new Set([procNetKey(address, port), procNetKey('0.0.0.0', port)]);
  const v6 = new Set([procNet6Key(address, port), procNet6Key('0.0.0.0', port)]);
  return await listeningIn('/proc/net/tcp', v4) || await listeningIn('/proc/net/tcp6', v6);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A listener that accepts and never answers (a peer that is there but stuck), and what it accepted. */
export interface SilentListener {
  /** Every connection accepted so far (errors on them are ignored: their other end gets killed). */
  readonly accepted: Socket[];
  /** The next connection it accepts. */
  nextConnection(): Promise<Socket>;
  /** Destroy the connections and stop listening. */
  close(): Promise<void>;
}

export async function silentListener(address: string, port: number): Promise<SilentListener> {
  const accepted: Socket[] = [];
  let waiting: ((s: Socket) => void)[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    accepted.push(s);
    const w = waiting;
    waiting = [];
    for (const resolve of w) resolve(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  return {
    accepted,
    nextConnection: () => new Promise<Socket>((resolve) => { waiting.push(resolve); }),
    close: async () => {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
