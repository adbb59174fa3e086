/**
 * Small fixtures for the transport interop tests: a host directory for the real
 * csync2 (config, key, certificate, database dir) and a real daemon started on a
 * 127.0.10.x address and a port from 31000-31099. Certificates come from the
 * shared test pool (our generator); openssl makes the special ones (other DN,
 * 1024-bit, replacements), which also checks that both kinds interoperate.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostCertificate } from '../helpers/certs.js';
import { isListening, sleep } from '../helpers/net.js';
import { REAL_CSYNC2 } from '../helpers/paths.js';
import type { ProcessTracker, TrackedProcess } from '../helpers/procs.js';

export const MAKE_CERT_DN = '/C=AU/ST=Some-State/O=Internet Widgits Pty Ltd';

export interface RealHost {
  addr: string;
  etc: string;
  db: string;
  data: string;
  /** The database file the real csync2 uses with `-N addr -D db`. */
  dbFile: string;
  certPem: string;
}

export interface HostsOptions {
  /** `nossl * *;` in every config (plain connections). */
  plain?: boolean;
  /** Subject DN per address (default MAKE_CERT_DN). */
  dn?: Record<string, string>;
  /** RSA key size (default 2048; `make cert` uses 1024). */
  bits?: number;
}

export class HostDirs {
  readonly root = mkdtempSync(join(tmpdir(), 'csync2-ts-net-'));
  readonly hosts: RealHost[] = [];

  constructor(addrs: string[], opts: HostsOptions = {}) {
    for (const addr of addrs) {
      const dir = join(this.root, addr);
      const host: RealHost = {
        addr,
        etc: join(dir, 'etc'),
        db: join(dir, 'db'),
        data: join(dir, 'data'),
        dbFile: join(dir, 'db', `${addr}.db3`),
        certPem: '',
      };
      for (const d of [host.etc, host.db, host.data]) mkdirSync(d, { recursive: true });
      const keyFile = join(host.etc, 'csync2.key');
      execFileSync(REAL_CSYNC2, ['-k', keyFile]);
      const nossl = opts.plain ? 'nossl * *;\n' : '';
      writeFileSync(join(host.etc, 'csync2.cfg'),
        `${nossl}group g { host ${addrs.join(' ')}; key ${keyFile}; include ${host.data}; }\n`);
      if (!opts.plain) {
        if (opts.dn?.[addr] !== undefined || opts.bits !== undefined) {
          makeCert(host.etc, opts.dn?.[addr] ?? MAKE_CERT_DN, opts.bits);
        } else {
          // The shared pool (our generator, `make cert` DN): distinct per host index, no keygen cost.
          const pooled = hostCertificate(this.hosts.length);
          writeFileSync(join(host.etc, 'csync2_ssl_key.pem'), pooled.keyPem, { mode: 0o600 });
          writeFileSync(join(host.etc, 'csync2_ssl_cert.pem'), pooled.certPem);
        }
        host.certPem = readFileSync(join(host.etc, 'csync2_ssl_cert.pem'), 'latin1');
      }
      this.hosts.push(host);
    }
  }

  host(addr: string): RealHost {
    const h = this.hosts.find((x) => x.addr === addr);
    if (!h) throw new Error(`no host ${addr}`);
    return h;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A self-signed RSA certificate like `make cert` (2048 bits unless asked), written as csync2's pem files. */
export function makeCert(etc: string, dn: string, bits = 2048): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', `rsa:${bits}`, '-nodes', '-days', '30', '-subj', dn,
    '-keyout', join(etc, 'csync2_ssl_key.pem'), '-out', join(etc, 'csync2_ssl_cert.pem')], { stdio: 'ignore' });
}

/** Start the real daemon for `host` and wait until it listens. */
export async function startRealDaemon(tracker: ProcessTracker, host: RealHost, port: number,
  args: string[] = ['-iii', '-vv']): Promise<TrackedProcess> {
  const proc = tracker.spawn([REAL_CSYNC2, '-N', host.addr, '-D', host.db, '-p', String(port), ...args],
    { env: { ...process.env, CSYNC2_SYSTEM_DIR: host.etc } });
  const deadline = Date.now() + 10_000;
  while (!(await isListening(host.addr, port))) {
    if (!proc.running || Date.now() > deadline) {
      await proc.stop();
      throw new Error(`real csync2 daemon did not start:\n${proc.stderr().toString('latin1')}`);
    }
    await sleep(20);
  }
  return proc;
}

/** Rows of a query on a csync2 database, via the sqlite3 program. */
export function sqlite(dbFile: string, query: string): string[][] {
  const out = execFileSync('/usr/bin/sqlite3', ['-separator', '\t', dbFile, query], { encoding: 'latin1' });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}
