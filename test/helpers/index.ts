/**
 * Multi-host test harness for csync2 interop tests.
 *
 * A cluster is a set of csync2 hosts on this machine. Every host has
 *   - a loopback address as its name (`127.a.b.N`, a /24 reserved per cluster so concurrent test
 *     files never collide); every command runs with `-N <name>`, so the daemon binds to that address
 *     and the client connects from it (the peer's HELLO check passes without /etc/hosts changes);
 *   - its own directory `<root>/hN/` with `etc/` (CSYNC2_SYSTEM_DIR: csync2.cfg, csync2.key, TLS key
 *     and certificate), `db/` (passed as `-D`, database `<name>.db3`) and `data/` (the synced tree,
 *     called `%data%` in the config through a `prefix data { on <host>: <dir>; ... }` block);
 *   - an implementation, 'real' (/usr/sbin/csync2) or 'ours' (dist/csync2.cjs, what bin/csync2 runs), switchable per call.
 * All hosts share one TCP port (`-p`), chosen free below the ephemeral port range.
 *
 * Default config (the same file on every host):
 *
 *     group test
 *     {
 *         host 127.a.b.1;
 *         host (127.a.b.3);        # slaves in parentheses
 *         key csync2.key;
 *         include %data%;          # <- `groupBody` replaces this part
 *     }
 *     prefix data { on 127.a.b.1: <root>/h1/data; ... }
 *     nossl * *;                   # only with tls: false
 *     <extraConfig>
 *
 * `configFor(host, cluster)` replaces the whole text per host (cluster.hostLines(),
 * cluster.prefixBlock() and cluster.defaultConfig({...}) help to build it); `cluster.writeConfig()`
 * and `host.writeConfig()` rewrite it later.
 *
 * Processes: every command and daemon is tracked by the cluster, runs under a time limit
 * (CSYNC2_TEST_TIMEOUT_MS, default 30 s; a hung csync2 rejects with RunTimeoutError), runs in its own
 * process group and gets SIGKILL if the test process dies. `cluster.cleanup()` stops everything,
 * removes the files (kept with CSYNC2_TEST_KEEP=1) and frees the address range.
 *
 * Example:
 *
 *     const c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'ours' }] });
 *     after(() => c.cleanup());
 *     const [a, b] = c.hosts;
 *     await a.write('f1.txt', 'hello\n');
 *     const r = await syncOnce(a, b);            // -iii on b, `csync2 -xv` on a
 *     assert.ok(r.ok, r.text);
 *     assert.deepEqual(diffTrees(await a.treeSnapshot(), await b.treeSnapshot()), []);
 *     assert.deepEqual(await a.dump('dirty'), []);
 *
 * Paths given to the host file helpers are relative to the data dir and are byte strings (latin1),
 * like every name in this project: use fromUtf8() from src/util/bytes.ts for UTF-8 names.
 */
export {
  Cluster, Daemon, DaemonStartError, KEY_FILE, TestHost, createCluster, formatRun, randomKey, syncOnce,
  type ClusterOptions, type ConfigParts, type DaemonOptions, type HostRunOptions, type HostSpec,
  type SyncOnceOptions, type SyncResult,
} from './cluster.js';
export { hostCertificate } from './certs.js';
export { allocateSubnet, findFreePort, isListening, procNetKey, silentListener, sleep, type SilentListener, type Subnet } from './net.js';
export { OUR_CSYNC2, OUR_ENTRY, REAL_CSYNC2, REPO_ROOT, SQLITE3, implCommand, type Impl } from './paths.js';
export {
  DEFAULT_TIMEOUT_MS, ProcessTracker, RunTimeoutError, TrackedProcess, onTestProcessExit, processesMentioning,
  type RunOptions, type RunResult, type SpawnOptions,
} from './procs.js';
export { straceCalls, type StraceCall } from './strace.js';
export { CSYNC2_COLUMNS, CSYNC2_TABLES, dumpTable, sqliteQuery, type Csync2Table } from './sqlite.js';
export {
  diffTrees, treeSnapshot, type CompareField, type DiffOptions, type EntryType, type SnapshotOptions,
  type TreeEntry, type TreeSnapshot,
} from './tree.js';
