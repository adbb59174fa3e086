/**
 * Entry point of bin/csync2: start-up order of csync2's main(), then one mode,
 * then the common ending (actions, commit, `Finished with N errors.`, exit code).
 * A standalone daemon starts listening first, before the bulk of the modules
 * loads (net/early-listen.ts says why).
 */
import { listenEarly } from '../net/early-listen.js';

// No top-level await: this module is also the entry of the CommonJS bundle (scripts/bundle.mjs).
async function main(): Promise<void> {
  // bin/csync2 starts node without NODE_EXTRA_CA_CERTS (it says why); actions get it back.
  const extraCa = process.env.CSYNC2_TS_EXTRA_CA;
  if (extraCa !== undefined) {
    delete process.env.CSYNC2_TS_EXTRA_CA;
    if (extraCa !== '') process.env.NODE_EXTRA_CA_CERTS = extraCa;
  }
  // bin/csync2 set MALLOC_ARENA_MAX for this process only (it says why): not for actions.
  if (process.env.CSYNC2_TS_ARENA !== undefined) {
    delete process.env.CSYNC2_TS_ARENA;
    delete process.env.MALLOC_ARENA_MAX;
  }

  await listenEarly(process.argv.slice(2));
  const { run } = await import('./run.js');
  const { log } = await import('../util/log.js');

  let code: number;
  try {
    code = await run();
  } catch (err) {
    // run() handles every expected error; this is a bug in csync2-ts itself.
    process.stderr.write(`csync2: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  }
  await log.close();
  process.exit(code);
}

void main();
