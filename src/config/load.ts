/**
 * Loading csync2.cfg: read the bytes, scan (with includes), parse, apply every
 * semantic rule, and return the model with csync2's run-time list orders.
 * Also the two group filters that act on a loaded config: the "is this host in
 * any group" test the CLI makes, and the daemon's GROUP command.
 */
import { readFileSync } from 'node:fs';
import { fromBuf, fromUtf8, type BStr } from '../util/bytes.js';
import { ConfigError, FatalError, strerror } from '../util/errors.js';
import { chevrotain } from './chevrotain.js';
import { ConfigBuilder, asciiLower, listNamesGroup } from './builder.js';
import type { Config } from './model.js';
import { configParser } from './parser.js';
import { buildTokenStream, readIncludeFromCwd, SCANNER_READ_FAILED, type CfgToken } from './source.js';

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
}

export function loadConfig(opts: LoadConfigOptions): Config {
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new ConfigError(SCANNER_READ_FAILED, opts.file, 1, 1, `${opts.file}: is a directory, not a config file`);
    }
    throw new FatalError(`Can not open config file \`${fromUtf8(opts.file)}': ${strerror(err)}`);
  }
  const stream = buildTokenStream(fromBuf(bytes), opts.file, readIncludeFromCwd);

  const builder = new ConfigBuilder({
    file: opts.file,
    systemDir: opts.systemDir,
    myhostname: asciiLower(opts.myhostname),
    groupList: opts.groupList,
    peerList: opts.peerList,
  });
  const syntax = configParser().run(stream.tokens, builder);
  if (syntax) {
    const tok = syntax.token as CfgToken;
    const atEnd = tok.tokenType === chevrotain.EOF || !tok.place;
    const place = atEnd ? stream.end : tok.place;
    const nearLine = atEnd ? stream.end.nearLine : tok.nearLine;
    throw new ConfigError(`Near line ${nearLine}: syntax error`, place.file, place.line, place.column,
      `${place.file}:${place.line}:${place.column}: ${syntax.what}`);
  }
  return builder.finish();
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
