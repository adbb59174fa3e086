/**
 * -T benchmark: the real csync2 against ours, as client and as daemon, on one pair of hosts.
 *
 *   node dist/bench/compare.js [tree10k|tree50k|FILES] [--runs N]     (default tree10k, 3 runs)
 *
 * Host A gets a generated tree, host B a copy with 1% of the files rewritten; both databases are
 * filled with `csync2 -cIr` (real). Then, with B's daemon (-ii, TLS) real and then ours, each
 * client runs `-T A B` (the LIST of every row plus the merge) and `-TI A B` (the same plus marking
 * the differences; A's database is restored after each run). Prints the median wall time of each
 * combination and ours/real ratios; checks that all clients print the same lines.
 */
import { copyFileSync, cpSync } from 'node:fs';
import { createCluster, type Impl, type TestHost } from '../test/helpers/index.js';
import { TREES, generateTree, touchTree } from './gen-tree.js';

const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3;
const treeArg = argv.find((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1)) ?? 'tree10k';
const spec = TREES[treeArg] ?? { files: Number(treeArg), seed: 7 };
if (!Number.isFinite(spec.files) || spec.files <= 0) throw new Error(`unknown tree ${treeArg}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const c = await createCluster({ hosts: [{ impl: 'real' }, { impl: 'real' }] });
try {
  const [A, B] = c.hosts as [TestHost, TestHost];
  generateTree(A.dataDir, spec);
  cpSync(A.dataDir, B.dataDir, { recursive: true, preserveTimestamps: true });
  const touched = touchTree(B.dataDir, 1);
  for (const h of [A, B]) {
    const r = await h.run(['-cIr', h.path('')], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`-cIr on ${h.name} failed: ${r.stderr.toString()}`);
  }
  console.log(`# -T benchmark: ${spec.files} files, ${touched} differ; median of ${runs} runs (ms)`);
  const rows: string[][] = [];
  const outputs = new Map<string, string>();
  for (const server of ['real', 'ours'] as Impl[]) {
    const d = await B.startDaemon({ impl: server, verbose: 0 });
    try {
      await A.run(['-T', A.name, B.name, A.path('none')]); // pins B's certificate before A's database is saved
      for (const args of [['-T', A.name, B.name], ['-TI', A.name, B.name]]) {
        const ms: Record<string, number> = {};
        for (const client of ['real', 'ours'] as Impl[]) {
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            copyFileSync(A.dbPath(), `${A.dbPath()}.saved`);
            const r = await A.run(args, { impl: client, timeoutMs: 600_000 });
            copyFileSync(`${A.dbPath()}.saved`, A.dbPath());
            if (r.code !== 0) throw new Error(`${client} ${args.join(' ')}: exit ${r.code}\n${r.stderr.toString()}`);
            times.push(r.ms);
            outputs.set(`${client}/${server}/${args[0]}`, r.stdout.toString('latin1'));
          }
          ms[client] = median(times);
        }
        rows.push([`${args[0]} vs ${server} daemon`, String(ms.real), String(ms.ours), (ms.ours! / ms.real!).toFixed(2)]);
      }
    } finally {
      await d.stop();
    }
  }
  const distinct = new Set(outputs.values());
  console.log('| case | real client | our client | ours/real |\n|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(distinct.size === 1 ? `# all ${outputs.size} outputs identical (${[...distinct][0]!.split('\n').length - 1} lines)`
    : `# OUTPUTS DIFFER (${distinct.size} variants)`);
  if (distinct.size !== 1) process.exitCode = 1;
} finally {
  await c.cleanup();
}
