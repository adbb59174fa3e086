/**
 * glibc-compatible fnmatch(3) on byte strings in the C locale (csync2 never
 * calls setlocale), without FNM_PERIOD, FNM_NOESCAPE, FNM_CASEFOLD or
 * FNM_EXTMATCH: exactly the flag combinations csync2 uses.
 *
 * A pattern is compiled once into a JS RegExp over latin1 strings. Plain
 * wildcards translate directly; a bracket expression is evaluated for each of
 * the 255 possible bytes by a model of glibc's bracket scanner, because glibc's
 * scanner has quirks a regex class cannot express by itself (an unterminated
 * `[` that falls back to a literal `[`, invalid class names that fail the match
 * only when they are reached, ranges with collating symbols). The byte sets that
 * lead to the same continuation become one regex class.
 *
 * micromatch is not used: it adds brace expansion, extglobs, `!` negation and
 * dot-file rules that fnmatch does not have, and its bracket handling differs.
 */
import type { BStr } from '../util/bytes.js';

export interface FnmatchFlags {
  /** FNM_PATHNAME: `*`, `?` and bracket expressions never match `/`. */
  pathname?: boolean;
  /** FNM_LEADING_DIR: the pattern may match a leading part of the string that is followed by `/`. */
  leadingDir?: boolean;
}

export type CompiledMatcher = (s: BStr) => boolean;

const NUL = 0;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const EQUALS = 0x3d;
const DOT = 0x2e;
const DASH = 0x2d;
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;
/** glibc: CHARCLASS_NAME_MAX. */
const CLASS_NAME_MAX = 2048;
/** A continuation index meaning "this byte does not match here". */
const NO_MATCH = -1;

/** C-locale ctype classes, as predicates on a byte. */
const CLASSES: Record<string, (b: number) => boolean> = {
  alpha: (b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a),
  digit: (b) => b >= 0x30 && b <= 0x39,
  alnum: (b) => CLASSES.alpha!(b) || CLASSES.digit!(b),
  upper: (b) => b >= 0x41 && b <= 0x5a,
  lower: (b) => b >= 0x61 && b <= 0x7a,
  space: (b) => b === 0x20 || (b >= 0x09 && b <= 0x0d),
  blank: (b) => b === 0x20 || b === 0x09,
  punct: (b) => (b >= 0x21 && b <= 0x2f) || (b >= 0x3a && b <= 0x40) || (b >= 0x5b && b <= 0x60) || (b >= 0x7b && b <= 0x7e),
  print: (b) => b >= 0x20 && b <= 0x7e,
  graph: (b) => b >= 0x21 && b <= 0x7e,
  cntrl: (b) => b < 0x20 || b === 0x7f,
  xdigit: (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66),
};

/** Continuation meaning "glibc treats the `[` as a literal character": continue after it if the byte is `[`. */
const LITERAL_BRACKET = -2;

/**
 * A bracket expression as glibc's scanner sees it. The scanner walks the
 * expression the same way whatever the string's byte is, until some member
 * matches that byte; so one walk yields an ordered list of member tests, each
 * with where matching continues if it is the first to match, and where it
 * continues if none matches. Continuations are pattern indexes, NO_MATCH, or
 * LITERAL_BRACKET.
 */
interface BracketPlan {
  tests: { matches: (b: number) => boolean; then: number }[];
  otherwise: number;
}

/** Models glibc 2.36's bracket scanner (fnmatch_loop.c) for the C locale; `open` is the index of `[`. */
function planBracket(p: string, open: number): BracketPlan {
  const at = (k: number): number => (k < p.length ? p.charCodeAt(k) : NUL);
  const tests: BracketPlan['tests'] = [];
  const done = (otherwise: number): BracketPlan => ({ tests, otherwise });
  let i = open + 1;
  const negated = at(i) === 0x21 /* ! */ || at(i) === 0x5e; /* ^ */
  if (negated) i++;

  // After a member matched, the rest of the expression is only skipped over;
  // the skipping has its own failure cases.
  const skipRest = (k: number): number => {
    for (;;) {
      const c = at(k++);
      if (c === RBRACKET) return negated ? NO_MATCH : k;
      if (c === NUL) return LITERAL_BRACKET;
      if (c === BACKSLASH) {
        if (at(k) === NUL) return NO_MATCH;
        k++;
      } else if (c === LBRACKET && at(k) === COLON) {
        const start = k;
        let len = 0;
        for (;;) {
          const d = at(++k);
          if (++len === CLASS_NAME_MAX) return NO_MATCH;
          if (d === COLON && at(k + 1) === RBRACKET) break;
          if (d < LOWER_A || d >= LOWER_Z) {
            k = start - 2;
            break;
          }
        }
        k += 2;
      } else if (c === LBRACKET && at(k) === EQUALS) {
        if (at(++k) === NUL) return NO_MATCH;
        if (at(++k) !== EQUALS || at(k + 1) !== RBRACKET) return NO_MATCH;
        k += 2;
      } else if (c === LBRACKET && at(k) === DOT) {
        for (;;) {
          const d = at(++k);
          if (d === NUL) return NO_MATCH;
          if (d === DOT && at(k + 1) === RBRACKET) break;
        }
        k += 2;
      }
    }
  };
  const member = (matches: (b: number) => boolean, next: number): void => {
    tests.push({ matches, then: skipRest(next) });
  };

  /** A `[.x.]` collating symbol whose `.` is at `k`: [its byte, index after it], or null (fails). */
  const collatingSymbol = (k: number): [number, number] | null => {
    const start = k;
    for (;;) {
      const d = at(++k);
      if (d === DOT && at(k + 1) === RBRACKET) break;
      if (d === NUL) return null;
    }
    // The C locale defines no collating element names: only one-byte symbols.
    return k - start === 2 ? [at(start + 1), k + 2] : null;
  };

  let c = at(i++);
  for (;;) {
    let ordinary = false; // c is an ordinary member (maybe the start of a range)
    let rangeStart = -1; // the member before a possible `-`
    if (c === BACKSLASH) {
      if (at(i) === NUL) return done(NO_MATCH);
      c = at(i++);
      ordinary = true;
    } else if (c === LBRACKET && at(i) === COLON) {
      const start = i;
      let name = '';
      let isName = true;
      for (;;) {
        if (name.length === CLASS_NAME_MAX) return done(NO_MATCH);
        const d = at(++i);
        if (d === COLON && at(i + 1) === RBRACKET) {
          i += 2;
          break;
        }
        if (d < LOWER_A || d >= LOWER_Z) {
          isName = false;
          break;
        }
        name += String.fromCharCode(d);
      }
      if (isName) {
        const test = Object.hasOwn(CLASSES, name) ? CLASSES[name]! : null;
        if (!test) return done(NO_MATCH); // invalid class name: fails when reached
        member(test, i);
        c = at(i++);
      } else {
        i = start;
        c = LBRACKET;
        ordinary = true;
      }
    } else if (c === LBRACKET && at(i) === EQUALS) {
      const ch = at(i + 1);
      if (ch === NUL || at(i + 2) !== EQUALS || at(i + 3) !== RBRACKET) {
        c = LBRACKET;
        ordinary = true;
      } else {
        i += 4;
        member((b) => b === ch, i);
        c = at(i++);
      }
    } else if (c === NUL) {
      return done(LITERAL_BRACKET);
    } else if (c === LBRACKET && at(i) === DOT) {
      // A collating symbol; it is tested alone only when no range follows.
      let k = i;
      const start = k;
      for (;;) {
        const d = at(++k);
        if (d === DOT && at(k + 1) === RBRACKET) {
          k += 2;
          break;
        }
        if (d === NUL) return done(NO_MATCH);
      }
      const isRange = at(k) === DASH && at(k + 1) !== NUL;
      if (k - start - 3 !== 1) return done(NO_MATCH);
      const sym = at(start + 1);
      i = k;
      if (!isRange) member((b) => b === sym, i);
      rangeStart = sym;
      c = at(i++);
    } else {
      ordinary = true;
    }

    if (ordinary) {
      const isRange = at(i) === DASH && at(i + 1) !== NUL && at(i + 1) !== RBRACKET;
      const ch = c;
      if (!isRange) member((b) => b === ch, i);
      rangeStart = c;
      c = at(i++);
    }

    if (rangeStart >= 0 && c === DASH && at(i) !== RBRACKET) {
      let end = at(i++);
      if (end === LBRACKET && at(i) === DOT) {
        const sym = collatingSymbol(i);
        if (!sym) return done(NO_MATCH);
        [end, i] = sym;
      } else {
        if (end === BACKSLASH) end = at(i++);
        if (end === NUL) return done(NO_MATCH);
      }
      // C locale: the collation order is the byte order.
      const lo = rangeStart;
      const hi = end;
      member((b) => lo <= b && b <= hi, i);
      c = at(i++);
    }

    if (c === RBRACKET) break;
  }
  return done(negated ? i : NO_MATCH);
}

/** Where matching continues after the bracket at `open` for each byte 1..255 (grouped by continuation). */
function bracketContinuations(p: string, open: number, pathname: boolean): Map<number, number[]> {
  const plan = planBracket(p, open);
  const out = new Map<number, number[]>();
  for (let b = 1; b < 256; b++) {
    if (pathname && b === SLASH) continue;
    let next = plan.otherwise;
    for (const t of plan.tests) {
      if (t.matches(b)) {
        next = t.then;
        break;
      }
    }
    if (next === LITERAL_BRACKET) next = b === LBRACKET ? open + 1 : NO_MATCH;
    if (next === NO_MATCH) continue;
    let list = out.get(next);
    if (!list) out.set(next, (list = []));
    list.push(b);
  }
  return out;
}

function regexByte(b: number): string {
  return '\\x' + (b < 16 ? '0' : '') + b.toString(16);
}

/** A regex character class for a set of bytes (merging runs into ranges). */
function regexClass(bytes: number[]): string {
  if (bytes.length === 0) return '(?!)';
  let out = '';
  for (let k = 0; k < bytes.length;) {
    let j = k;
    while (j + 1 < bytes.length && bytes[j + 1] === bytes[j]! + 1) j++;
    out += regexByte(bytes[k]!);
    if (j > k) out += (j > k + 1 ? '-' : '') + regexByte(bytes[j]!);
    k = j + 1;
  }
  return `[${out}]`;
}

/** Limit on the regex source size; beyond it (pathological nested brackets) we give up compiling. */
const MAX_SOURCE = 1 << 20;

class PatternCompiler {
  private readonly memo = new Map<number, string>();
  private readonly any: string;

  constructor(private readonly p: string, private readonly pathname: boolean, private readonly leadingDir: boolean) {
    this.any = pathname ? '[^/]' : '[\\s\\S]';
  }

  /** Regex source matching the pattern from index `start` to the end of the string. */
  from(start: number): string {
    const cached = this.memo.get(start);
    if (cached !== undefined) return cached;
    const { p } = this;
    let out = '';
    let i = start;
    let done = false;
    while (!done && i < p.length) {
      const c = p.charCodeAt(i);
      if (c === 0x3f /* ? */) {
        out += this.any;
        i++;
      } else if (c === 0x2a /* * */) {
        // A run of `*` and `?`: the `?`s each take one byte, the stars any number.
        while (i < p.length && (p[i] === '*' || p[i] === '?')) {
          if (p[i] === '?') out += this.any;
          i++;
        }
        out += this.any + '*';
        // glibc looks for the byte after the stars only inside the current path
        // component, so an escaped `/` there can never be found.
        if (this.pathname && p[i] === '\\' && (i + 1 >= p.length || p[i + 1] === '/')) {
          out += '(?!)';
          done = true;
        }
      } else if (c === BACKSLASH) {
        if (i + 1 >= p.length) {
          out += '(?!)'; // a trailing backslash never matches
          done = true;
        } else {
          out += regexByte(p.charCodeAt(i + 1));
          i += 2;
        }
      } else if (c === LBRACKET) {
        const byContinuation = bracketContinuations(p, i, this.pathname);
        if (byContinuation.size === 0) {
          out += '(?!)';
          done = true;
        } else if (byContinuation.size === 1) {
          const [[next, bytes]] = [...byContinuation];
          out += regexClass(bytes!);
          i = next!;
        } else {
          const branches = [...byContinuation].map(([next, bytes]) => regexClass(bytes) + this.from(next));
          out += `(?:${branches.join('|')})`;
          done = true; // each branch carries its own tail
          if (out.length > MAX_SOURCE) throw new RangeError('fnmatch pattern too complex');
        }
      } else {
        out += regexByte(c);
        i++;
      }
    }
    if (!done) out += this.leadingDir ? '(?:/[\\s\\S]*)?$' : '$';
    this.memo.set(start, out);
    return out;
  }
}

function compileUncached(pattern: BStr, pathname: boolean, leadingDir: boolean): CompiledMatcher {
  // Fast paths for the most common shapes; both equal the general translation.
  if (!SPECIAL.test(pattern)) {
    if (!leadingDir) return (s) => s === pattern;
    const withSlash = pattern + '/';
    return (s) => s === pattern || s.startsWith(withSlash);
  }
  if (!pathname && !leadingDir) {
    // Basename patterns: `*`, `*.ext`, `prefix*`, `*part*` without other wildcards.
    const m = /^(\*?)([^*?[\\]*)(\*?)$/.exec(pattern);
    if (m && (m[1] || m[3])) {
      const lit = m[2]!;
      if (m[1] && m[3]) return lit === '' ? () => true : (s) => s.includes(lit);
      if (m[1]) return (s) => s.endsWith(lit);
      return (s) => s.startsWith(lit);
    }
  }
  const re = new RegExp('^' + new PatternCompiler(pattern, pathname, leadingDir).from(0));
  return (s) => re.test(s);
}

const SPECIAL = /[*?[\\]/;

const cache = new Map<string, CompiledMatcher>();
const CACHE_LIMIT = 4096;

/** The compiled form of a pattern, cached (patterns come from the config, so the set is small). */
export function compileFnmatch(pattern: BStr, flags: FnmatchFlags = {}): CompiledMatcher {
  const pathname = !!flags.pathname;
  const leadingDir = !!flags.leadingDir;
  const key = (pathname ? 'P' : '-') + (leadingDir ? 'L' : '-') + pattern;
  let m = cache.get(key);
  if (!m) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    m = compileUncached(pattern, pathname, leadingDir);
    cache.set(key, m);
  }
  return m;
}

/** fnmatch(pattern, str, flags) == 0. */
export function fnmatch(pattern: BStr, str: BStr, flags: FnmatchFlags = {}): boolean {
  return compileFnmatch(pattern, flags)(str);
}
