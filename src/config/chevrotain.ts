/**
 * chevrotain, loaded from its single-file bundle. The package entry point pulls
 * in hundreds of small ES modules (lodash-es) and costs ~0.4 s at every csync2
 * start (every CLI run, every inetd connection); the bundle loads in ~30 ms.
 * Falls back to the package entry if the bundle is not where we expect it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export type Chevrotain = typeof import('chevrotain');

async function loadChevrotain(): Promise<Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve('chevrotain');
    const bundle = join(dirname(entry), '..', 'chevrotain.min.mjs');
    if (existsSync(bundle)) return (await import(pathToFileURL(bundle).href)) as Chevrotain;
  } catch {
    // use the package entry below
  }
  return import('chevrotain');
}

export const chevrotain: Chevrotain = await loadChevrotain();
