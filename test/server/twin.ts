/**
 * Twin runs: one scenario played twice, once against a REAL csync2 daemon and once against OURS,
 * each in its own cluster of the same shape. The scenario asserts what must hold for either server
 * and returns observations (client exit codes and messages, the server's tree and database rows,
 * replies seen on raw sockets...). The observations of both runs, with host names, paths and
 * "just now" timestamps normalized, must be identical: that is the compatibility proof.
 *
 * Host 1 of every cluster is the client (the real csync2 unless the scenario says otherwise),
 * host 2 the server whose implementation is switched.
 */
import assert from 'node:assert/strict';
import { lutimes } from 'node:fs/promises';
import { test } from 'node:test';
import {
  createCluster, formatRun, syncOnce, type Cluster, type ClusterOptions, type HostSpec, type SyncResult, type TestHost,
} from '../helpers/index.js';
import type { Impl, RunResult } from '../helpers/index.js';

/** A fixed, obviously-not-now modification time for settled trees. */
export const T0 = 1_600_000_000;

export interface Twin {
  impl: Impl;
  cluster: Cluster;
  client: TestHost;
  server: TestHost;
  /** Everything the scenario records, compared between the two runs. */
  seen: Record<string, unknown>;
  /** Record an observation (normalized when compared). */
  note(key: string, value: unknown): void;
  /** One `-xv` round (one-shot daemon on the server); records exit codes and client messages under `key`. */
  sync(key: string, args?: string[], from?: TestHost, to?: TestHost): Promise<SyncResult>;
  /** Records the server's tree and its file/dirty tables (and the client's dirty table) under `key`. */
  snapshot(key: string, host?: TestHost): Promise<void>;
}

export interface TwinOptions extends Omit<ClusterOptions, 'hosts'> {
  /** Hosts; host 2 (index 1) gets the switched implementation (default: client real, server switched). */
  hosts?: (impl: Impl) => HostSpec[];
  /** Give each run longer (default node:test limit). */
  timeout?: number;
}

/** Sets the mtime of every entry under the host's data dir (symlinks too) to `t`. */
export async function settle(host: TestHost, t = T0): Promise<void> {
  const entries = await host.treeSnapshot();
  // Deepest first, so touching children does not matter for their parents (we set parents anyway).
  for (const e of [...entries].reverse()) await lutimes(Buffer.from(host.path(e.path), 'latin1'), t, t);
}

/** Client messages without the lines that carry timing or pids. */
export function clientLines(r: RunResult): string[] {
  const lines = r.stderr.toString('latin1').split('\n').filter((l) => l !== '');
  // -vvv also prints GnuTLS's handshake debugging, which depends on the TLS version the daemon
  // negotiates (ours caps at 1.2): keep the wire dump and the outcome.
  if (!lines.some((l) => l.startsWith('Local> '))) return lines;
  return lines.filter((l) => /^(Local> |Peer> |response from peer|Finished with|ERROR|Peer did|Auto-resolving|Do not auto)/.test(l));
}

function normalizer(c: Cluster): (v: unknown) => unknown {
  const names = c.hosts.map((h, i) => [h.name, `H${i + 1}`] as const);
  const subnetPrefix = c.subnet.address(1).replace(/\d+$/, '');
  const key = c.key.trim();
  const now = Math.floor(Date.now() / 1000);
  const fix = (s: string): string => {
    let out = s.split(c.root).join('ROOT').split(`:${c.port}`).join(':PORT');
    // Longest names first (127.a.b.1 must not eat 127.a.b.10).
    for (const [name, label] of [...names].sort((x, y) => y[0].length - x[0].length)) out = out.split(name).join(label);
    // Other addresses of the cluster's subnet (e.g. an @iface name), and the random group key.
    out = out.split(subnetPrefix).join('NET.');
    out = out.split(key).join('KEY');
    out = out.replace(/mtime=(\d+)/g, (m, n: string) => (Math.abs(Number(n) - now) < 3600 ? 'mtime=NOW' : m));
    out = out.replace(/\b[0-9A-F]{200,}\b/g, 'CERTHEX');
    // Our client's extra line naming a peer's error reply (csync2 shows it only at -vvv).
    out = out.replace(/^Error reply from [^\n]*\n/gm, '');
    return out;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return fix(v);
    if (Array.isArray(v)) return v.filter((x) => !(typeof x === 'string' && x.startsWith('Error reply from '))).map(walk);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x);
      // Our client sets a directory's mtime after its contents (csync2 leaves "now"): not compared here.
      if (twinSide !== 'server' && o['type'] === 'dir' && 'mtime' in o) o['mtime'] = 'DIR';
      return o;
    }
    if (typeof v === 'number' && Math.abs(v - now) < 3600) return 'NOW';
    return v;
  };
  return walk;
}

/**
 * Which side the twin runs switch: the server (default; the client is the real csync2) or the
 * client (test/client/ re-runs the same scenarios with OUR client against a real daemon).
 */
let twinSide: 'server' | 'client' | 'both' = 'server';
export function setTwinSide(side: 'server' | 'client' | 'both'): void {
  twinSide = side;
}

export function getTwinSide(): 'server' | 'client' | 'both' {
  return twinSide;
}

async function runTwin(impl: Impl, opts: TwinOptions, body: (t: Twin) => Promise<void>): Promise<Record<string, unknown>> {
  const swap = (specs: HostSpec[]): HostSpec[] => (twinSide === 'server' ? specs : specs.map((h) => ({
    ...h, impl: (twinSide === 'both' || h.impl !== impl ? impl : 'real') as Impl,
  })));
  const hosts = opts.hosts ? opts.hosts(impl) : [{ impl: 'real' as Impl }, { impl }];
  if (twinSide !== 'server') hosts.splice(0, hosts.length, ...swap(hosts));
  const cluster = await createCluster({ ...opts, hosts });
  try {
    const seen: Record<string, unknown> = {};
    const t: Twin = {
      impl, cluster, client: cluster.hosts[0]!, server: cluster.hosts[1]!, seen,
      note(key, value) {
        if (key in seen) throw new Error(`observation ${key} recorded twice`);
        seen[key] = value;
      },
      async sync(key, args = ['-xv'], from = t.client, to = t.server) {
        const r = await syncOnce(from, to, args);
        t.note(key, {
          client: r.client.code, server: r.server.code, connected: r.connected[0], messages: clientLines(r.client),
        });
        return r;
      },
      async snapshot(key, host = t.server) {
        t.note(`${key}.tree`, await host.treeSnapshot());
        t.note(`${key}.file`, await host.dump('file'));
        t.note(`${key}.dirty`, await host.dump('dirty'));
        const other = host === t.server ? t.client : t.server;
        t.note(`${key}.dirty(${other === t.client ? 'client' : 'server'})`, await other.dump('dirty'));
      },
    };
    try {
      await body(t);
    } catch (err) {
      if (err instanceof Error) err.message = `[${impl} ${twinSide === 'server' ? 'daemon' : twinSide === 'client' ? 'client' : 'client+daemon'}] ${err.message}`;
      throw err;
    }
    return normalizer(cluster)(seen) as Record<string, unknown>;
  } finally {
    await cluster.cleanup();
  }
}

/**
 * A test that runs `body` against a real daemon and ours (concurrently, in two clusters) and asserts
 * that the normalized observations are identical.
 */
export function twinTest(title: string, opts: TwinOptions, body: (t: Twin) => Promise<void>): void {
  test(title, { timeout: opts.timeout ?? 120_000 }, async () => {
    const [real, ours] = await Promise.all([runTwin('real', opts, body), runTwin('ours', opts, body)]);
    for (const key of new Set([...Object.keys(real), ...Object.keys(ours)])) {
      assert.deepEqual(ours[key], real[key], `observation '${key}' differs between our ${twinSide === 'server' ? 'daemon' : twinSide === 'client' ? 'client' : 'client+daemon'} and the real one`);
    }
  });
}

/** Assert a round had nothing to send: the client exits 0 and never connects. */
export function assertNothingToDo(r: SyncResult): void {
  assert.equal(r.client.code, 0, r.text);
  assert.deepEqual(r.connected, [false], r.text);
}

/** Assert a sync went through without errors (message shows everything). */
export function assertClean(r: SyncResult): void {
  assert.ok(r.ok, r.text);
  assert.doesNotMatch(r.client.stderr.toString('latin1'), /Finished with [1-9]/, r.text);
}

export { formatRun };
