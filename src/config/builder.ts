/**
 * The semantic side of csync2.cfg: what each statement means, every check and
 * message of csync2's parser actions, and the -G / -P filtering applied when a
 * group is closed. Called by the grammar (parser.ts) in csync2's order.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { fromUtf8, toBuf, toUtf8, type BStr } from '../util/bytes.js';
import { ConfigError, strerror } from '../util/errors.js';
import { log } from '../util/log.js';
import { fnmatch } from './fnmatch.js';
import type { ActionBlock, AutoMethod, Config, Group, HostEntry, NosslEntry, PatternEntry, PrefixDef } from './model.js';
import type { ConfigSink } from './parser.js';
import type { CfgToken, Place } from './source.js';

export interface BuildContext {
  /** Main config file path (as the CLI computed it). */
  file: string;
  /** System directory: relative key file names are taken relative to it. */
  systemDir: string;
  /** Lower-cased local host name. */
  myhostname: BStr;
  /** -G value or null. */
  groupList: BStr | null;
  /** -P value or null. */
  peerList: BStr | null;
}

const AUTO_METHODS: readonly AutoMethod[] = ['none', 'first', 'younger', 'older', 'bigger', 'smaller', 'left', 'right'];

/** fgets(line, 1024, f) keeps at most this many bytes of the key file's first line. */
const KEY_LINE_MAX = 1023;
const MIN_KEY_LENGTH = 32;

/** tolower() in the C locale: only A-Z change. */
export function asciiLower(s: BStr): BStr {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** C atoi(): strtol base 10 (leading blanks, sign, digits; saturating at long), then cut to int. */
export function atoi(s: BStr): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s)!;
  if (!m[2]) return 0;
  let v = BigInt(m[2]);
  if (m[1] === '-') v = -v;
  const LONG_MAX = (1n << 63n) - 1n;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < -LONG_MAX - 1n) v = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, v));
}

/** Drops trailing slashes but keeps a leading one (`/` stays `/`). */
export function stripTrailingSlashes(s: BStr): BStr {
  let end = s.length;
  while (end > 1 && s.charCodeAt(end - 1) === 0x2f) end--;
  return s.slice(0, end);
}

/**
 * Whether csync2's comma-separated -G list names `name`: an item must equal
 * the name exactly. (Scans the way csync2 does, so a group name containing a
 * comma matches the same list text csync2 would accept.)
 */
export function listNamesGroup(list: BStr, name: BStr): boolean {
  let i = 0;
  while (i < list.length) {
    if (list.startsWith(name, i) && (i + name.length === list.length || list[i + name.length] === ',')) return true;
    const comma = list.indexOf(',', i);
    if (comma < 0) break;
    i = comma + 1;
  }
  return false;
}

/** csync2's -P test: some peer name equals one of the comma-separated items (empty items are skipped). */
export function listNamesPeer(list: BStr, peers: HostEntry[]): boolean {
  const items = new Set(list.split(',').filter((x) => x !== ''));
  return peers.some((h) => items.has(h.name));
}

interface GroupDraft extends Group {
  keyAt: Place | null;
  autoAt: Place | null;
  autoSet: boolean;
}

function where(p: Place): string {
  return `${p.file}:${p.line}:${p.column}`;
}

export class ConfigBuilder implements ConfigSink {
  private readonly groups: GroupDraft[] = [];
  private group: GroupDraft | null = null;
  private action: ActionBlock | null = null;
  private unnamedGroups = 0;
  private readonly prefixes: PrefixDef[] = [];
  private readonly nossl: NosslEntry[] = [];
  private ignoreUid = false;
  private ignoreGid = false;
  private ignoreMod = false;
  private tempdir: BStr | null = null;
  private lockTimeout = 12;
  private database: BStr | null = null;

  constructor(private readonly ctx: BuildContext) {}

  private fail(message: BStr, at: Place, what: string): never {
    throw new ConfigError(message, at.file, at.line, at.column, `${where(at)}: ${what}`);
  }

  private get cur(): GroupDraft {
    return this.group!;
  }

  newGroup(keyword: CfgToken, name: CfgToken | null): void {
    const g: GroupDraft = {
      name: name ? name.value : `group_${++this.unnamedGroups}`,
      key: '',
      keyFile: '',
      myname: null,
      localIsSlave: false,
      hosts: [],
      patterns: [],
      auto: 'none',
      backupDirectory: null,
      backupGenerations: 3,
      actions: [],
      active: false,
      hasActivePeers: false,
      file: keyword.place.file,
      line: keyword.place.line,
      keyAt: null,
      autoAt: null,
      autoSet: false,
    };
    this.groups.push(g);
    this.group = g;
  }

  addHost(host: CfgToken, iface: CfgToken | null, slave: boolean): void {
    const g = this.cur;
    const hostname = asciiLower(host.value);
    const peername = asciiLower(iface ? iface.value : host.value);
    if (hostname === this.ctx.myhostname) {
      g.myname = peername;
      g.localIsSlave = slave;
    } else {
      g.hosts.push({ name: peername, slave, leftSide: g.myname === null });
    }
  }

  addPattern(kind: 'include' | 'exclude' | 'compare', word: CfgToken): void {
    const pattern = stripTrailingSlashes(word.value);
    const entry: PatternEntry = {
      pattern,
      kind,
      starMatchesSlashes: pattern.includes('**'),
      pathname: pattern[0] === '/' || pattern[0] === '%',
    };
    this.cur.patterns.push(entry);
  }

  setKey(keyword: CfgToken, file: CfgToken): void {
    const g = this.cur;
    if (g.keyAt) {
      this.fail('Config error: a group might only have one key.', keyword.place,
        `group '${toUtf8(g.name)}' already has a key (set at ${where(g.keyAt)})`);
    }
    const name = file.value;
    const path = name !== '' && name[0] !== '/' ? `${fromUtf8(this.ctx.systemDir)}/${name}` : name;
    const line = this.readKeyLine(path, file.place);
    for (let i = 0; i < line.length; i++) {
      if (!/[A-Za-z0-9._]/.test(line[i]!)) {
        this.fail(`Unallowed character '${line[i]}' in key file ${path}.`, file.place,
          `key file '${toUtf8(path)}' has byte 0x${line.charCodeAt(i).toString(16).padStart(2, '0')} at offset ${i}; ` +
          'a key may only contain A-Z a-z 0-9 . _ (create one with csync2 -k FILE)');
      }
    }
    if (line.length < MIN_KEY_LENGTH) {
      this.fail(`Config error: Key in file ${path} is too short.`, file.place,
        `the key in '${toUtf8(path)}' has ${line.length} characters; at least ${MIN_KEY_LENGTH} are needed`);
    }
    g.key = line;
    g.keyFile = path;
    g.keyAt = keyword.place;
  }

  /** The key file's first line as fgets() + csync2 see it: up to the first LF or NUL, at most 1023 bytes. */
  private readKeyLine(path: BStr, at: Place): BStr {
    const cannot = (why: string): never =>
      this.fail(`Config error: Can't read keyfile ${path}.`, at, `cannot read key file '${toUtf8(path)}': ${why}`);
    let fd: number;
    try {
      fd = openSync(toBuf(path), 'r');
    } catch (err) {
      return cannot(strerror(err));
    }
    const buf = Buffer.alloc(KEY_LINE_MAX);
    let n = 0;
    try {
      // fgets stops at the first LF; reading a little more does not change the result.
      for (;;) {
        const got = readSync(fd, buf, n, KEY_LINE_MAX - n, null);
        if (got === 0) break;
        n += got;
        if (n === KEY_LINE_MAX || buf.subarray(0, n).includes(0x0a)) break;
      }
    } catch (err) {
      if (n === 0) return cannot(strerror(err));
    } finally {
      closeSync(fd);
    }
    if (n === 0) return cannot('the file is empty');
    let line = buf.subarray(0, n).toString('latin1');
    const stop = line.search(/[\n\0]/);
    if (stop >= 0) line = line.slice(0, stop);
    return line;
  }

  setAuto(keyword: CfgToken, method: CfgToken): void {
    const g = this.cur;
    if (g.autoSet) {
      this.fail('Config error: a group might only have one auto-setting.', keyword.place,
        `group '${toUtf8(g.name)}' already has an auto setting (set at ${where(g.autoAt!)})`);
    }
    const m = method.value as AutoMethod;
    if (!AUTO_METHODS.includes(m)) {
      this.fail(`Config error: Unknown auto-setting '${method.value}' (use 'none', 'younger', 'older', 'bigger', 'smaller', 'left' or 'right').`,
        method.place, `'${toUtf8(method.value)}' is not an auto method (${AUTO_METHODS.join(', ')})`);
    }
    g.auto = m;
    g.autoSet = true;
    g.autoAt = keyword.place;
  }

  setBackupDirectory(dir: CfgToken): void {
    this.cur.backupDirectory = dir.value;
  }

  setBackupGenerations(count: CfgToken): void {
    this.cur.backupGenerations = atoi(count.value);
  }

  endGroup(close: CfgToken): void {
    const g = this.cur;
    if (!g.keyAt) {
      this.fail('Config error: every group must have a key.', close.place,
        `group '${toUtf8(g.name)}' (declared at ${g.file}:${g.line}) ends without a 'key' statement`);
    }
    const { groupList, peerList } = this.ctx;
    g.hasActivePeers = peerList === null || listNamesPeer(peerList, g.hosts);
    g.active = g.myname !== null && (groupList === null || listNamesGroup(groupList, g.name));
    this.group = null;
  }

  newAction(): void {
    this.action = { patterns: [], commands: [], logfile: '/dev/null', doLocal: false, doLocalOnly: false };
    this.cur.actions.push(this.action);
  }

  addActionPattern(pattern: CfgToken): void {
    this.action!.patterns.push(pattern.value);
  }

  addActionExec(command: CfgToken): void {
    this.action!.commands.push(command.value);
  }

  setActionLogfile(file: CfgToken): void {
    this.action!.logfile = file.value;
  }

  setActionDoLocal(): void {
    this.action!.doLocal = true;
  }

  setActionDoLocalOnly(): void {
    this.action!.doLocal = true;
    this.action!.doLocalOnly = true;
  }

  newPrefix(name: CfgToken): void {
    this.prefixes.push({ name: name.value, path: null });
  }

  addPrefixEntry(hostPattern: CfgToken, path: CfgToken): void {
    if (path.value[0] !== '/') {
      this.fail(`Config error: Prefix '${path.value}' is not an absolute path.`, path.place,
        `prefix paths must start with '/' (on every entry, also those for other hosts)`);
    }
    const prefix = this.prefixes[this.prefixes.length - 1]!;
    if (prefix.path === null && fnmatch(hostPattern.value, this.ctx.myhostname)) {
      prefix.path = stripTrailingSlashes(path.value);
      log.debug(2, `Prefix '${prefix.name}' is set to '${prefix.path}'.`);
    }
  }

  addNossl(from: CfgToken, to: CfgToken): void {
    this.nossl.push({ from: from.value, to: to.value });
  }

  setDatabase(url: CfgToken): void {
    this.database ??= url.value;
  }

  setTempdir(dir: CfgToken): void {
    this.tempdir = dir.value;
  }

  addIgnore(word: CfgToken): void {
    switch (word.value) {
      case 'uid': this.ignoreUid = true; break;
      case 'gid': this.ignoreGid = true; break;
      case 'mod': this.ignoreMod = true; break;
      default:
        this.fail(`Config error: Unknown 'ignore' porperty: '${word.value}'.`, word.place,
          "'ignore' takes uid, gid and/or mod");
    }
  }

  setLockTimeout(seconds: CfgToken): void {
    this.lockTimeout = atoi(seconds.value) >>> 0; // stored unsigned
  }

  noCygwinLowercase(keyword: CfgToken): void {
    this.fail("Config error: Found 'nocygwinlowercase' but this is not a cygwin csync2.", keyword.place,
      "'no-cygwin-lowercase' is only accepted by Cygwin builds of csync2; remove it");
  }

  scannerFailure(at: CfgToken): never {
    const f = at.failure!;
    throw new ConfigError(f.message, at.place.file, at.place.line, at.place.column, f.detail);
  }

  /** The finished model, lists in csync2's run-time orders (config.md §5). */
  finish(): Config {
    const groups: Group[] = this.groups.map(({ keyAt: _k, autoAt: _a, autoSet: _s, ...g }) => ({
      ...g,
      actions: g.actions.map((a) => ({ ...a, patterns: [...a.patterns].reverse(), commands: [...a.commands].reverse() })).reverse(),
    }));
    return {
      file: this.ctx.file,
      myhostname: this.ctx.myhostname,
      groups: groups.reverse(),
      prefixes: [...this.prefixes].reverse(),
      nossl: [...this.nossl].reverse(),
      ignoreUid: this.ignoreUid,
      ignoreGid: this.ignoreGid,
      ignoreMod: this.ignoreMod,
      tempdir: this.tempdir,
      lockTimeout: this.lockTimeout,
      database: this.database,
    };
  }
}
