#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js, tsc's ES modules) into one CommonJS
// file, dist/csync2-main.cjs, and the loader bin/csync2 runs, dist/csync2.cjs, which
// compiles that file with a V8 code cache (src/launcher/start.ts says why).
// Why one file: every csync2 start (each cron run, each -T, each inetd connection)
// loads ~20 of our modules; node's ES-module loader resolves, links and namespaces
// each of them, and one CommonJS file starts ~25 ms faster (no-op `-u`, best of 12:
// 135 -> 112 ms; measured in the stop 18 note).
// The modules a mode loads late (dynamic import) stay late: esbuild wraps them in
// init functions that run on first import.
//
// Left outside: better-sqlite3 (a native addon), node-forge (large; key generation
// only) and chevrotain (an ES module, imported at run time by config/chevrotain.ts).
// config/chevrotain-ready.ts is left out too: a top-level await cannot be in a
// CommonJS file, and config/load.ts loads chevrotain before the grammar anyway.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const withoutChevrotainReady = {
  name: 'without-chevrotain-ready',
  setup(b) {
    b.onResolve({ filter: /\/chevrotain-ready\.js$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: '', loader: 'js' }));
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  charset: 'ascii',
  target: 'node20',
  external: ['better-sqlite3', 'node-forge', 'chevrotain'],
  // import.meta.url of every bundled module is the bundle's own URL (node_modules is found from there).
  define: { 'import.meta.url': '__csync2_bundle_url' },
  banner: { js: "const __csync2_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};
// The program, and the small loader that runs it with a V8 code cache (src/launcher/start.ts).
const results = [
  await build({ ...common, entryPoints: ['dist/src/cli/main.js'], outfile: 'dist/csync2-main.cjs', plugins: [withoutChevrotainReady] }),
  await build({ ...common, entryPoints: ['dist/src/launcher/start.js'], outfile: 'dist/csync2.cjs' }),
];
if (results.some((r) => r.warnings.length > 0)) process.exit(1);
