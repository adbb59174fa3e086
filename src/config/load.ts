/**
 * Loading csync2.cfg: read the bytes, scan (with includes), parse, apply every
 * semantic rule, and return the model with csync2's run-time list orders. A
 * file parsed before is not parsed again: the builder gets the calls the parser
 * made then (cache.ts).
 * Also the two group filters that act on a loaded config: the "is this host in
 * any group" test the CLI makes, and the daemon's GROUP command.
 */
import { readFileSync } from 'node:fs';
import { fromBuf, fromUtf8, type BStr } from '../util/bytes.js';
import { ConfigError, FatalError, strerror } from '../util/errors.js';
import { ConfigBuilder, asciiLower, listNamesGroup } from './builder.js';
import { lookupParse, storeParse } from './cache.js';
import { loadChevrotain } from './chevrotain.js';
import { SCANNER_READ_FAILED } from './flex.js';
import type { Config } from './model.js';
import { replay } from './recording.js';

export interface LoadConfigOptions {
  /** Full path of the config file (`<sysdir>/csync2.cfg` or `<sysdir>/csync2_<name>.cfg`). */
  file: string;
  /** System directory; relative key file names are taken relative to it. */
  systemDir: string;
  /** Local host name (-N or gethostname()), lower-cased by the caller. */
  myhostname: BStr;
  /** -G value, or null. */
  groupList: BStr | null;
  /** -P value, or null. */
  peerList: BStr | null;
  /** Where the parse cache's settings come from (cache.ts; default process.env). */
  cacheEnv?: NodeJS.ProcessEnv;
}

export async function loadConfig(opts: LoadConfigOptions): Promise<Config> {
  const { bytes, builder } = begin(opts);
  return fromCache(opts, bytes, builder) ?? parseAndKeep(opts, bytes, builder, await loadParser());
}

/** The parser module, chevrotain first (the grammar modules use it as they load: chevrotain.ts). */
async function loadParser(): Promise<ParserModule> {
  await loadChevrotain();
  return import('./parse.js');
}

/** loadConfig() for a caller that has loaded the parser module already (tests). */
export function loadConfigSync(opts: LoadConfigOptions, parser: ParserModule): Config {
  const { bytes, builder } = begin(opts);
  return fromCache(opts, bytes, builder) ?? parseAndKeep(opts, bytes, builder, parser);
}

type ParserModule = typeof import('./parse.js');

function begin(opts: LoadConfigOptions): { bytes: Buffer; builder: ConfigBuilder } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new ConfigError(SCANNER_READ_FAILED, opts.file, 1, 1, `${opts.file}: is a directory, not a config file`);
    }
    throw new FatalError(`Can not open config file \`${fromUtf8(opts.file)}': ${strerror(err)}`);
  }
  const builder = new ConfigBuilder({
    file: opts.file,
    systemDir: opts.systemDir,
    myhostname: asciiLower(opts.myhostname),
    groupList: opts.groupList,
    peerList: opts.peerList,
  });
  return { bytes, builder };
}

/** The model from a recording of an earlier parse of these bytes, or null. */
function fromCache(opts: LoadConfigOptions, bytes: Buffer, builder: ConfigBuilder): Config | null {
  const calls = lookupParse(opts.file, bytes, opts.cacheEnv);
  if (calls === null || !replay(calls, builder)) return null;
  return builder.finish();
}

function parseAndKeep(opts: LoadConfigOptions, bytes: Buffer, builder: ConfigBuilder, parser: ParserModule): Config {
  const rec = parser.parseInto(fromBuf(bytes), opts.file, builder);
  const cfg = builder.finish();
  storeParse(opts.file, bytes, rec.includes, rec.calls, opts.cacheEnv);
  return cfg;
}

/** Some group lists this host and survived -G (csync2 checks this after parsing, before opening the DB). */
export function hasActiveGroup(cfg: Config): boolean {
  return cfg.groups.some((g) => g.active);
}

/**
 * What the daemon's `GROUP <list>` command does to the loaded config. csync2
 * means to disable every group not in the list, but its loop tests and
 * disables only the FIRST group of the run-time list (the last one declared),
 * once for each active group. Net effect: that one group becomes inactive if it
 * was active and its name is not in the list; all others stay as they were.
 * (Rejecting a second GROUP, or one after -G, is the server's job.)
 */
export function disableGroupsForGroupCommand(cfg: Config, list: BStr): void {
  const first = cfg.groups[0];
  if (first && first.active && !listNamesGroup(list, first.name)) first.active = false;
}
