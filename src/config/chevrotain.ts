/**
 * chevrotain, loaded from its single-file bundle. The package entry point pulls
 * in hundreds of small ES modules (lodash-es) and costs ~0.4 s at every csync2
 * start (every CLI run, every inetd connection); the bundle loads in ~30 ms.
 * Falls back to the package entry if the bundle is not where we expect it.
 *
 * It is loaded by loadChevrotain() before the grammar modules run (they use it
 * at load time): config/load.ts awaits it before importing the parser, and in
 * the ES-module build chevrotain-ready.ts awaits it for whoever imports the
 * grammar directly (tests). The CommonJS bundle bin/csync2 runs (scripts/bundle.mjs)
 * cannot hold a top-level await, so it leaves chevrotain-ready.ts out.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importOutside } from '../util/import-outside.js';

export type Chevrotain = typeof import('chevrotain');

/** Set by loadChevrotain(); read by the grammar modules once they load. */
export let chevrotain: Chevrotain;

let loading: Promise<Chevrotain> | null = null;

async function importChevrotain(): Promise<Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain');
    const bundle = join(dirname(entry), '..', 'chevrotain.min.mjs');
    if (existsSync(bundle)) return await importOutside<Chevrotain>(pathToFileURL(bundle).href);
  } catch {
    // use the package entry below
  }
  return importOutside<Chevrotain>('chevrotain');
}

export function loadChevrotain(): Promise<Chevrotain> {
  loading ??= importChevrotain().then((c) => (chevrotain = c));
  return loading;
}
