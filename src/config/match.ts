/**
 * Which groups a file belongs to, and the questions csync2 asks about that
 * (groups.c, action.c): include/exclude/compare patterns, directories on the
 * way to included paths, peers, keys and permissions.
 *
 * Called for every file of a scan, so every pattern is compiled once here.
 * Group activity is read at call time: the daemon's GROUP command may turn a
 * group off after the Matcher was built.
 */
import type { BStr } from '../util/bytes.js';
import { log } from '../util/log.js';
import { compileFnmatch, type CompiledMatcher } from './fnmatch.js';
import type { ActionBlock, Config, Group } from './model.js';

interface CompiledPattern {
  pattern: BStr;
  /** include and compare patterns include; exclude patterns exclude. */
  include: boolean;
  compare: boolean;
  pathname: boolean;
  test: CompiledMatcher;
}

interface CompiledGroup {
  group: Group;
  patterns: CompiledPattern[];
  /** For stepInto: each include pathname pattern cut at each `/` (compare flag kept). */
  leadingParts: { compare: boolean; test: CompiledMatcher }[];
}

/** Flags csync2 uses for pathname patterns (and action patterns). */
function pathFlags(pattern: BStr): { pathname: boolean; leadingDir: boolean } {
  return { pathname: !pattern.includes('**'), leadingDir: true };
}

function compileGroup(group: Group): CompiledGroup {
  const patterns: CompiledPattern[] = group.patterns.map((p) => ({
    pattern: p.pattern,
    include: p.kind !== 'exclude',
    compare: p.kind === 'compare',
    pathname: p.pathname,
    test: p.pathname
      ? compileFnmatch(p.pattern, { pathname: !p.starMatchesSlashes, leadingDir: true })
      : compileFnmatch(p.pattern),
  }));
  const leadingParts: CompiledGroup['leadingParts'] = [];
  for (const p of group.patterns) {
    if (!p.pathname || p.kind === 'exclude') continue;
    let t = p.pattern;
    for (let cut = t.lastIndexOf('/'); cut >= 0; cut = t.lastIndexOf('/')) {
      t = t.slice(0, cut);
      leadingParts.push({ compare: p.kind === 'compare', test: compileFnmatch(t, { pathname: !p.starMatchesSlashes }) });
    }
  }
  return { group, patterns, leadingParts };
}

function basenameOf(file: BStr): BStr {
  const slash = file.lastIndexOf('/');
  return slash >= 0 ? file.slice(slash + 1) : file;
}

export class Matcher {
  /** csync_compare_mode: compare patterns count, groups need an active peer (-P). */
  compareMode = false;

  private readonly compiled: CompiledGroup[];
  private readonly indexOf = new Map<Group, number>();

  constructor(readonly cfg: Config) {
    this.compiled = cfg.groups.map(compileGroup);
    cfg.groups.forEach((g, i) => this.indexOf.set(g, i));
  }

  private usable(g: Group): boolean {
    return g.active && (!this.compareMode || g.hasActivePeers);
  }

  /** Where `Match` lines go (a pipelined client's job collects its own, to print them in csync2's order). */
  private debugOut: { debug(level: number, text: string): void } = log;

  /** Run `fn` with this matcher's `Match` lines going to `out`. */
  withDebugOut<T>(out: { debug(level: number, text: string): void }, fn: () => T): T {
    const before = this.debugOut;
    this.debugOut = out;
    try {
      return fn();
    } finally {
      this.debugOut = before;
    }
  }

  /** The include/exclude decision of one group for a file. */
  private matchesPatterns(cg: CompiledGroup, file: BStr, base: BStr): boolean {
    let pathResult = false;
    let baseResult = true;
    const debug = log.level >= 2;
    for (const p of cg.patterns) {
      if (p.compare && !this.compareMode) continue;
      let hit: boolean;
      if (p.pathname) {
        hit = p.test(file);
        if (hit) pathResult = p.include;
      } else {
        hit = p.test(base);
        if (hit) baseResult = p.include;
      }
      if (hit && debug) this.debugOut.debug(2, `Match (${p.include ? '+' : '-'}): ${p.pattern} on ${file}`);
    }
    return pathResult && baseResult;
  }

  /** csync_find_next: the next usable group after `after` (run-time order) that contains the file. */
  findNext(file: BStr, after: Group | null): Group | null {
    let i = 0;
    if (after) {
      const at = this.indexOf.get(after);
      if (at === undefined) return null;
      i = at + 1;
    }
    const base = basenameOf(file);
    for (; i < this.compiled.length; i++) {
      const cg = this.compiled[i]!;
      if (this.usable(cg.group) && this.matchesPatterns(cg, file, base)) return cg.group;
    }
    return null;
  }

  /** Every usable group containing the file, in run-time order. */
  groupsFor(file: BStr): Group[] {
    const out: Group[] = [];
    for (let g = this.findNext(file, null); g; g = this.findNext(file, g)) out.push(g);
    return out;
  }

  inAnyGroup(file: BStr): boolean {
    return this.findNext(file, null) !== null;
  }

  /** csync_step_into: a directory a recursive walk must enter because an included path lies below it. */
  stepInto(dir: BStr): boolean {
    if (dir === '/') return true;
    for (const cg of this.compiled) {
      if (!this.usable(cg.group)) continue;
      for (const part of cg.leadingParts) {
        if (part.compare && !this.compareMode) continue;
        if (part.test(dir)) return true;
      }
    }
    return false;
  }

  /** csync_match_file: 2 = in a group, 1 = only on the way to one, 0 = neither. */
  matchFile(file: BStr): 0 | 1 | 2 {
    if (this.findNext(file, null)) return 2;
    return this.stepInto(file) ? 1 : 0;
  }

  /**
   * csync_check_usefullness without the printing: false means csync2 prints
   * `WARNING: Parameter will be ignored: <file>`. Also tries the prefix-encoded
   * spelling, and accepts a path above some prefix's directory.
   */
  isUseful(file: BStr, recursive: boolean): boolean {
    if (this.findNext(file, null)) return true;
    if (recursive && this.stepInto(file)) return true;
    if (file.charCodeAt(0) !== 0x2f) return false;
    for (const p of this.cfg.prefixes) {
      if (p.path === null) continue;
      // The prefix directory lies below the file (the file is a parent of it).
      if (p.path.length > file.length && p.path.startsWith(file) && p.path.charCodeAt(file.length) === 0x2f) return true;
      if (p.path.length <= file.length && file.startsWith(p.path) &&
        (file.length === p.path.length || file.charCodeAt(p.path.length) === 0x2f)) {
        const encoded = `%${p.name}%${file.slice(p.path.length)}`;
        if (this.findNext(encoded, null)) return true;
        if (recursive && this.stepInto(encoded)) return true;
      }
    }
    return false;
  }

  /**
   * csync_match_file_host: some group containing the file has this myname and
   * lists the peer (and, if `keys` is given, has one of those keys; csync2 stops
   * reading the key list at the first empty string).
   */
  matchFileHost(file: BStr, myname: BStr, peername: BStr, keys: BStr[] | null): boolean {
    for (let g = this.findNext(file, null); g; g = this.findNext(file, g)) {
      if (g.myname !== myname) continue;
      if (keys) {
        let found = false;
        for (const k of keys) {
          if (k === '') break;
          if (k === g.key) {
            found = true;
            break;
          }
        }
        if (!found) continue;
      }
      if (g.hosts.some((h) => h.name === peername)) return true;
    }
    return false;
  }

  /**
   * csync_find_peers: the peers of every group containing the file (only groups
   * that list `thispeer`, if given), each once, with the myname of the first
   * group that brought it.
   */
  findPeers(file: BStr, thispeer: BStr | null): { peername: BStr; myname: BStr }[] {
    const out: { peername: BStr; myname: BStr }[] = [];
    const seen = new Set<BStr>();
    for (let g = this.findNext(file, null); g; g = this.findNext(file, g)) {
      if (thispeer !== null && !g.hosts.some((h) => h.name === thispeer)) continue;
      for (const h of g.hosts) {
        if (seen.has(h.name)) continue;
        seen.add(h.name);
        out.push({ peername: h.name, myname: g.myname! });
      }
    }
    return out;
  }

  /** csync_key: the key of the first group containing the file that lists the peer. */
  key(peername: BStr, file: BStr): BStr | null {
    for (let g = this.findNext(file, null); g; g = this.findNext(file, g)) {
      if (g.hosts.some((h) => h.name === peername)) return g.key;
    }
    return null;
  }

  /**
   * csync_perm: 0 = the peer may change the file (a group containing it lists the
   * peer as a master with this key), 2 = only as a slave, 1 = not at all.
   */
  perm(file: BStr, key: BStr, peername: BStr | null): 0 | 1 | 2 {
    let result: 1 | 2 = 1;
    if (peername === null) return result;
    for (let g = this.findNext(file, null); g; g = this.findNext(file, g)) {
      if (g.key !== key) continue;
      for (const h of g.hosts) {
        if (h.name !== peername) continue;
        if (!h.slave) return 0;
        result = 2;
      }
    }
    return result;
  }

  /**
   * action.c: a block applies to a (prefix-encoded) file if it has no patterns
   * or one of them matches the whole path (FNM_LEADING_DIR, and FNM_PATHNAME
   * unless the pattern contains `**`).
   */
  actionMatches(block: ActionBlock, file: BStr): boolean {
    if (block.patterns.length === 0) return true;
    return block.patterns.some((p) => compileFnmatch(p, pathFlags(p))(file));
  }
}
