/**
 * A random sweep of local commands against the real csync2: a seeded stream of changes to a small
 * tree (files, directories, symlinks, fifos, modes, times, odd names) and of commands (-c with and
 * without -r/-I/-f/-X/-B/-d, hints, -m, -M, -L, -H, -S, -R, -T, -o, -G, -P, -C, -v to -vv), run by
 * both implementations on the same tree with a database each. After every command the exit code,
 * stdout, stderr (but SQL's lines, which differ by design) and the file, dirty and hint tables must
 * be equal. Three configs: plain groups, prefixes with overlapping groups, `ignore` with excludes.
 * It found the two -vv differences and the -cvv crash fixed with it (check.ts, store.ts).
 *
 * CSYNC2_SWEEP_STEPS (default 40 per config) and CSYNC2_SWEEP_SEED (default 1) widen or move it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { prng } from '../../bench/gen-tree.js';
import { LocalEnv } from './env.js';

const STEPS = Number(process.env.CSYNC2_SWEEP_STEPS ?? 40);
const SEED = Number(process.env.CSYNC2_SWEEP_SEED ?? 1);

const CONFIGS: Record<string, string> = {
  groups: `
group g1 { host thishost peer1 (peer2); key csync2.key; include %DATA%; exclude %DATA%/ex*; auto younger; }
group g2 { host thishost peer3; key csync2.key; include %DATA%/sub; }
`,
  prefixes: `
group g1 { host thishost@thisif peer1 (peer2); key csync2.key; include %dp%; exclude %dp%/ex*; exclude *.tmp; include %dp%/ex1; }
group g3 { host peer5 peer6; key csync2.key; include %DATA%; }
group g2 { host (thishost) peer3; key csync2.key; include %DATA%/sub; include %DATA%/sub/*; exclude %DATA%/sub/c; compare %DATA%/dir2; }
prefix dp { on thishost: %DATA%; on peer1: /other; }
nossl * *;
`,
  ignore: `
ignore uid;
ignore mod;
group g1 { host thishost peer1; key csync2.key; include %DATA%; exclude %DATA%/sub/*; include %DATA%/sub/d; exclude %DATA%/*x*; }
group g2 { host peer1 thishost; key csync2.key; include %DATA%/dir2/; include %DATA%/a; auto left; }
`,
};

const NAMES = ['a', 'b', 'sub', 'sub/c', 'sub/d', 'ex1', 'sub/e f', 'dir2', 'dir2/x', 'p%41.tmp', 'ü x', 'sub/c/deep',
  'ex2', 'dir2/y z', 't\tab', 'back\\sl', "q'uote"];

function sweep(variant: string, seed: number): void {
  const env = new LocalEnv('cs2-sweep-');
  const rnd = prng(seed); // seeded: a failing step replays with CSYNC2_SWEEP_SEED
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const data = env.data;
  try {
    env.config(CONFIGS[variant]!);
    env.config(`group g1 { host thishost peer1; key csync2.key; include %DATA%; }\n`, 'csync2_alt.cfg');
    const path = (): string => pick([data, join(data, pick(NAMES)), `${data}/`, join(data, 'nonexist'), `${data}/sub/../a`,
      '%dp%', `%dp%/${pick(NAMES)}`, '%nope%/a']);
    const ops: (() => string[])[] = [
      () => ['-cr', path()], () => ['-c', path()], () => ['-cIr', path()], () => ['-cfr', path()], () => ['-M'], () => ['-L'],
      () => ['-m', path()], () => ['-mr', path()], () => ['-f', path()], () => ['-fr', path()], () => ['-R'], () => ['-cRr', path()],
      () => ['-H'], () => ['-Mr', path()], () => ['-L', '-v'], () => ['-M', '-P', 'peer1'], () => ['-cr', '-G', 'g2', path()],
      () => ['-C', 'alt', '-cr', path()], () => ['-C', 'alt', '-M'], () => ['-cvr', path()], () => ['-cvvr', path()],
      () => ['-mv', path()], () => ['-T'], () => ['-Tr', path()], () => ['-cdr', path()], () => ['-S', 'thishost', 'peer1'],
      () => ['-Sv', 'thishost', 'peer3'], () => ['-cr', '-P', 'peer1', path()], () => ['-r', '-c'], () => ['-crX', path()],
      () => ['-R', '-v'], () => ['-cr', '-B', path()], () => ['-ML'], () => ['-cU'], () => ['-TUr', path()],
      () => ['-c', '-Ix', path()], () => ['-h', path()], () => ['-hr', path()], () => ['-c'], () => ['-cv'], () => ['-o', path()],
      () => ['-or', path()], () => ['-hvv', path()], () => ['-cvv'], () => ['-m', path(), path()], () => ['-fv', path()],
      () => ['-M', path()], () => ['-L', '-r'], () => ['-cr', path(), path()], () => ['-crv', '-P', 'peer2', path()],
    ];
    const mutate = (): void => {
      const k = rnd();
      const p = join(data, pick(NAMES));
      try {
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (k < 0.4) {
          if (st && !st.isFile()) return;
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, String(rnd()));
        } else if (k < 0.55) {
          if (st?.isDirectory()) rmSync(p, { recursive: true });
          else if (st) unlinkSync(p);
        } else if (k < 0.7) {
          if (!st) mkdirSync(p, { recursive: true });
        } else if (k < 0.8) {
          if (st && !st.isSymbolicLink()) chmodSync(p, pick([0o644, 0o600, 0o755]));
        } else if (k < 0.9) {
          if (!st) {
            mkdirSync(dirname(p), { recursive: true });
            symlinkSync(`target${Math.floor(rnd() * 3)}`, p);
          }
        } else if (k < 0.95) {
          if (!st) {
            mkdirSync(dirname(p), { recursive: true });
            execFileSync('mkfifo', [p]);
          }
        } else if (st?.isFile()) {
          const t = 1e9 + Math.floor(rnd() * 7e8);
          utimesSync(p, t, t);
        }
      } catch {
        // a parent that is a file now, and the like: no change this time
      }
    };
    for (let step = 0; step < STEPS; step++) {
      const changes = Math.floor(rnd() * 4);
      for (let i = 0; i < changes; i++) mutate();
      const args = pick(ops)();
      const [real, ours] = env.both(args);
      const label = `${variant} seed ${seed} step ${step}: csync2 ${args.join(' ')}`;
      assert.equal(ours.code, real.code, `${label}: exit code\n${ours.stderr}`);
      assert.equal(ours.stdout.replaceAll('/usr/sbin/csync2', 'csync2'), real.stdout.replaceAll('/usr/sbin/csync2', 'csync2'),
        `${label}: stdout`);
      assert.deepEqual(env.debugLines(ours, 'ours'), env.debugLines(real, 'real'), `${label}: stderr`);
      if (existsSync(join(env.dbDir('real'), 'thishost.db3'))) {
        for (const t of ['file', 'dirty', 'hint'] as const) assert.deepEqual(env.dump('ours', t), env.dump('real', t), `${label}: table ${t}`);
      }
    }
  } finally {
    env.cleanup();
  }
}

for (const [i, variant] of Object.keys(CONFIGS).entries()) {
  test(`random local commands give csync2's output and rows (${variant})`, () => sweep(variant, SEED + i));
}
