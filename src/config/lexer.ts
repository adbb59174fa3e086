/**
 * Tokens of csync2.cfg, as csync2's flex scanner produces them.
 *
 * flex takes the longest match and, on a tie, the rule listed first; keywords
 * and the one-character tokens `{`, `}` and `:` are listed before the word
 * rule. chevrotain's `longer_alt` gives the same result: a keyword (or `{`)
 * is taken unless the word rule matches something strictly longer.
 *
 * The scanner's `config FILE;` handling is a second lexer mode ("incl"):
 * after `config`, blanks are skipped and every run of other characters is a
 * file name to include, until a `;`. Line breaks in that mode are dropped by
 * flex's default rule without being counted as lines; we keep them as
 * InclJunk tokens so the line counter can skip them.
 */
import type { IToken, TokenType } from 'chevrotain';
import './chevrotain-ready.js';
import { chevrotain } from './chevrotain.js';

const { createToken, Lexer } = chevrotain;

/** A word: unquoted (not ending in `:`) or the content of a non-empty quoted string. */
export const Word = createToken({ name: 'Word', label: 'a word', pattern: /[^ \r\n\t@;()#"]*[^ \r\n\t@:;()#"]/, line_breaks: false });
export const Quoted = createToken({ name: 'Quoted', label: 'a quoted string', pattern: /"[^"]*"?/, line_breaks: true });
export const Blank = createToken({ name: 'Blank', pattern: /[ \r\n\t]+/, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\r\n]*/ });

export const LBrace = createToken({ name: 'LBrace', label: "'{'", pattern: '{', longer_alt: Word });
export const RBrace = createToken({ name: 'RBrace', label: "'}'", pattern: '}', longer_alt: Word });
export const LParen = createToken({ name: 'LParen', label: "'('", pattern: '(' });
export const RParen = createToken({ name: 'RParen', label: "')'", pattern: ')' });
export const Semi = createToken({ name: 'Semi', label: "';'", pattern: ';' });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: ':', longer_alt: Word });
export const At = createToken({ name: 'At', label: "'@'", pattern: '@' });

function keyword(name: string, text: string): TokenType {
  return createToken({ name, label: `'${text}'`, pattern: text, longer_alt: Word });
}

export const Nossl = keyword('Nossl', 'nossl');
export const Ignore = keyword('Ignore', 'ignore');
export const Database = keyword('Database', 'database');
export const Group = keyword('Group', 'group');
export const Host = keyword('Host', 'host');
export const Exclude = keyword('Exclude', 'exclude');
export const Include = keyword('Include', 'include');
export const Compare = keyword('Compare', 'compare');
export const Key = keyword('Key', 'key');
export const Auto = keyword('Auto', 'auto');
export const Action = keyword('Action', 'action');
export const Pattern = keyword('Pattern', 'pattern');
export const Exec = keyword('Exec', 'exec');
export const Logfile = keyword('Logfile', 'logfile');
// Longest match: do-local-only must be tried before its prefix do-local.
export const DoLocalOnly = keyword('DoLocalOnly', 'do-local-only');
export const DoLocal = keyword('DoLocal', 'do-local');
export const Prefix = keyword('Prefix', 'prefix');
export const On = keyword('On', 'on');
export const LockTimeout = keyword('LockTimeout', 'lock-timeout');
export const Tempdir = keyword('Tempdir', 'tempdir');
export const BackupDirectory = keyword('BackupDirectory', 'backup-directory');
export const BackupGenerations = keyword('BackupGenerations', 'backup-generations');
export const NoCygwinLowercase = keyword('NoCygwinLowercase', 'no-cygwin-lowercase');
export const Config = createToken({ name: 'Config', pattern: 'config', longer_alt: Word, push_mode: 'incl' });

export const InclBlank = createToken({ name: 'InclBlank', pattern: /[ \t]+/ });
export const InclName = createToken({ name: 'InclName', pattern: /[^ \t\r\n;]+/ });
export const InclEnd = createToken({ name: 'InclEnd', pattern: ';', pop_mode: true });
export const InclJunk = createToken({ name: 'InclJunk', pattern: /[\r\n]/, line_breaks: true });

/**
 * Stands where the scanner had to give up (an include that cannot be opened or
 * is nested too deeply). No grammar rule accepts it, so the parser stops there
 * exactly when it asks for that token.
 */
export const IncludeFailure = createToken({ name: 'IncludeFailure', label: 'an included file', pattern: Lexer.NA });

export const KEYWORDS: TokenType[] = [
  Nossl, Ignore, Database, Group, Host, Exclude, Include, Compare, Key, Auto, Action, Pattern, Exec, Logfile,
  DoLocalOnly, DoLocal, Prefix, On, LockTimeout, Tempdir, BackupDirectory, BackupGenerations, NoCygwinLowercase,
];

/** Every token type the parser can see. */
export const PARSER_TOKENS: TokenType[] = [
  LBrace, RBrace, LParen, RParen, Semi, Colon, At, ...KEYWORDS, Word, IncludeFailure,
];

const lexer = new Lexer({
  modes: {
    main: [Blank, Comment, Quoted, LBrace, RBrace, LParen, RParen, Semi, Colon, At, ...KEYWORDS, Config, Word],
    incl: [InclBlank, InclName, InclEnd, InclJunk],
  },
  defaultMode: 'main',
}, {
  // flex counts only LF in yylineno; columns are bytes (the text is latin1).
  lineTerminatorsPattern: /\n/g,
  lineTerminatorCharacters: ['\n'],
  positionTracking: 'full',
  ensureOptimizations: false,
  skipValidations: true,
});

/** Raw tokens of one file's text (latin1), including blanks, comments and include-mode tokens. */
export function lexFile(text: string): IToken[] {
  const r = lexer.tokenize(text);
  // Every character is covered by some rule in both modes, so errors cannot happen.
  if (r.errors.length) throw new Error(`config lexer: ${r.errors[0]!.message}`);
  return r.tokens;
}
