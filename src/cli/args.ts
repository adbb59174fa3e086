/**
 * Command-line parsing with csync2's getopt semantics: option string
 * `W:s:Ftp:G:P:C:D:N:HBAIXULlSTMRvhcuoimfxrd`, bundling, GNU permutation (options
 * after file names), `--`, repeated letters that change the mode (`-TT`,
 * `-iii`, `-c ... -u`). getopt() below takes the options apart; the mode rules
 * run on each option, in command-line order, exactly as csync2's switch does.
 *
 * Not commander (the project's chosen CLI library): getopt's semantics are a few
 * lines to state exactly, where commander's had to be translated back (its
 * errors, `--long`, values that start with '-'), and loading it took ~22 ms of
 * every csync2 start.
 */
import { openSync, closeSync, writeSync, constants as C } from 'node:fs';
import { DEFAULT_PORT, type Mode, type Options } from './options.js';
import { FatalError, UsageError, strerror } from '../util/errors.js';
import { toBuf, type BStr } from '../util/bytes.js';

const FLAG_LETTERS = 'FtHBAIXULlSTMRvhcuoimfxrd';
const VALUE_LETTERS = 'WspGPCDN';

/** Modes that accept file arguments. */
const FILE_MODES: ReadonlySet<Mode> = new Set<Mode>(['hint', 'mark', 'force', 'simple', 'update', 'check',
  'compare', 'checkAndUpdate', 'listSync', 'test']);

export interface ParseEnv {
  /** gethostname(), used when -N is absent. */
  hostname: () => BStr;
  systemDir: string;
}

export function parseArgs(argv: BStr[], env: ParseEnv): Options {
  const o: Options = {
    mode: 'check', args: [], recursive: false, dryRun: false, debugLevel: 0, syslog: false,
    timestamps: false, timestampFile: null, dumpDirFd: null, newForce: false, noBigTransactions: false,
    asyncDb: false, initRun: false, initRunWithRemovals: false, initRunStraight: false, testAutoDiff: false,
    groupList: null, peerList: null, cfgName: '', database: null, hostname: '', bindToHostname: false,
    port: DEFAULT_PORT, systemDir: env.systemDir,
  };
  let mode: Mode | null = null;
  let nameGiven: BStr | null = null;

  const setMode = (m: Mode): void => {
    if (mode !== null) throw new UsageError('');
    mode = m;
  };

  const onOption = (letter: string, value: string | undefined): void => {
    switch (letter) {
      case 'W': {
        const fd = atoi(value!);
        try {
          writeSync(fd, Buffer.alloc(0), 0, 0);
        } catch (err) {
          throw new FatalError(`Invalid dump_dir_fd ${fd}: ${strerror(err)}`);
        }
        o.dumpDirFd = fd;
        break;
      }
      case 's':
        try {
          closeSync(openSync(toBuf(value!), C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o666));
        } catch (err) {
          throw new FatalError(`Can't open timestanp file \`${value}': ${strerror(err)}`);
        }
        o.timestampFile = value!;
        break;
      case 'F': o.newForce = true; break;
      case 't': o.timestamps = true; break;
      case 'p': o.port = value!; break;
      case 'G': o.groupList = value!; break;
      case 'P': o.peerList = value!; break;
      case 'B': o.noBigTransactions = true; break;
      case 'A': o.asyncDb = true; break;
      case 'I': o.initRun = true; break;
      case 'X': o.initRunWithRemovals = true; break;
      case 'U': o.initRunStraight = true; break;
      case 'C': o.cfgName = value!; break;
      case 'D': o.database = value!; break;
      case 'N': nameGiven = value!.slice(0, 255); break;
      case 'v': o.debugLevel++; break;
      case 'l': o.syslog = true; break;
      case 'h': setMode('hint'); break;
      case 'x': setMode('simple'); break;
      case 'c': setMode('check'); break;
      case 'u':
        if (mode === 'check') mode = 'checkAndUpdate';
        else setMode('update');
        break;
      case 'o': setMode('compare'); break;
      case 'i':
        if (mode === 'inetd') mode = 'server';
        else if (mode === 'server') mode = 'single';
        else setMode('inetd');
        break;
      case 'm': setMode('mark'); break;
      case 'f': setMode('force'); break;
      case 'H': setMode('listHints'); break;
      case 'L': setMode('listFiles'); break;
      case 'S': setMode('listSync'); break;
      case 'T':
        if (mode === 'test') o.testAutoDiff = true;
        else setMode('test');
        break;
      case 'M': setMode('listDirty'); break;
      case 'R': setMode('removeOld'); break;
      case 'r': o.recursive = true; break;
      case 'd': o.dryRun = true; break;
    }
  };

  o.args = getopt(argv, onOption);

  const finalMode = mode as Mode | null;
  if (o.args.length > 0 && (finalMode === null || !FILE_MODES.has(finalMode))) throw new UsageError('');
  if (finalMode === 'test' && o.args.length > 3) throw new UsageError('');
  if (finalMode === 'listSync' && o.args.length !== 2) throw new UsageError('');
  if (finalMode === null) throw new UsageError('');
  o.mode = finalMode;

  if (o.mode === 'inetd' && !o.syslog) o.syslog = true;
  // An empty -N counts as none for the name (csync2 then asks gethostname()), not for binding.
  const host = nameGiven || env.hostname().slice(0, 255);
  o.bindToHostname = nameGiven !== null;
  o.hostname = lowerAscii(host);
  return o;
}

/**
 * glibc getopt() over csync2's option string, with GNU argument permutation:
 * options are handed to `onOption` in command-line order (bundled letters one by
 * one, a value from the rest of the word or the next word, whatever it looks
 * like), everything else is returned as arguments in order; `--` ends the
 * options, POSIXLY_CORRECT stops them at the first argument. The first unknown
 * letter or missing value is getopt's message, as a UsageError.
 */
function getopt(argv: BStr[], onOption: (letter: string, value: string | undefined) => void): BStr[] {
  const args: BStr[] = [];
  const posix = process.env.POSIXLY_CORRECT !== undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      if (posix) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const l = a[j]!;
      if (VALUE_LETTERS.includes(l)) {
        let value: string;
        if (j + 1 < a.length) value = a.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i]!;
        else throw new UsageError(`csync2: option requires an argument -- '${l}'`);
        onOption(l, value);
        break;
      }
      if (!FLAG_LETTERS.includes(l)) throw new UsageError(`csync2: invalid option -- '${l}'`);
      onOption(l, undefined);
    }
  }
  return args;
}

/** C's atoi(): leading white space, optional sign, digits; anything else stops. */
export function atoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(s);
  return m ? Number.parseInt(m[1]!, 10) | 0 : 0;
}

/** C tolower() in the C locale: only A-Z change. */
export function lowerAscii(s: BStr): BStr {
  return s.replace(/[A-Z]+/g, (x) => x.toLowerCase());
}
