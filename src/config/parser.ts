/**
 * The csync2.cfg grammar (csync2's bison parser) as a chevrotain parser with
 * embedded actions. Each action is placed where bison runs it, because the
 * order of semantic errors and syntax errors is observable: bison (with its
 * default reductions) runs a rule's action as soon as the rule's last token is
 * shifted, even when the next token is wrong. For example `key FILE` is
 * checked before the `;` is looked at, `ignore` words are checked (last word
 * first, the list is right-recursive) after the token following them was read.
 *
 * Quirk kept on purpose: `compare A B C;` makes A and B include patterns and
 * only C a compare pattern (csync2's compare rule reuses the include list).
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import './chevrotain-ready.js';
import { chevrotain } from './chevrotain.js';
import { toUtf8 } from '../util/bytes.js';
import {
  Action, At, Auto, BackupDirectory, BackupGenerations, Colon, Compare, Database, DoLocal, DoLocalOnly, Exclude, Exec,
  Group, Host, Ignore, Include, IncludeFailure, Key, KEYWORDS, LBrace, Logfile, LockTimeout, LParen, NoCygwinLowercase,
  Nossl, On, Pattern, PARSER_TOKENS, Prefix, RBrace, RParen, Semi, Tempdir, Word,
} from './lexer.js';
import type { CfgToken } from './source.js';

/** What the grammar reports, in csync2's order. Implementations throw ConfigError to stop. */
export interface ConfigSink {
  newGroup(keyword: CfgToken, name: CfgToken | null): void;
  addHost(host: CfgToken, iface: CfgToken | null, slave: boolean): void;
  addPattern(kind: 'include' | 'exclude' | 'compare', word: CfgToken): void;
  setKey(keyword: CfgToken, file: CfgToken): void;
  setAuto(keyword: CfgToken, method: CfgToken): void;
  setBackupDirectory(dir: CfgToken): void;
  setBackupGenerations(count: CfgToken): void;
  endGroup(close: CfgToken): void;
  newAction(keyword: CfgToken): void;
  addActionPattern(pattern: CfgToken): void;
  addActionExec(command: CfgToken): void;
  setActionLogfile(file: CfgToken): void;
  setActionDoLocal(): void;
  setActionDoLocalOnly(): void;
  newPrefix(name: CfgToken): void;
  addPrefixEntry(hostPattern: CfgToken, path: CfgToken): void;
  addNossl(from: CfgToken, to: CfgToken): void;
  setDatabase(url: CfgToken): void;
  setTempdir(dir: CfgToken): void;
  addIgnore(word: CfgToken): void;
  setLockTimeout(seconds: CfgToken): void;
  noCygwinLowercase(keyword: CfgToken): void;
  /** The scanner gave up at this token (include failure): stop with its message. */
  scannerFailure(at: CfgToken): never;
}

const GROUP_STATEMENTS = "'host', 'key', 'include', 'exclude', 'compare', 'auto', 'backup-directory', 'backup-generations' or 'action'";
const ROOT_STATEMENTS = "'group', 'prefix', 'nossl', 'database', 'tempdir', 'ignore', 'lock-timeout' or 'no-cygwin-lowercase'";

/** What each rule's `;` ends, for "expected ';' after the ..." messages. */
const LIST_NAMES: Record<string, string> = {
  hostStatement: 'host list',
  includeStatement: 'include list',
  excludeStatement: 'exclude list',
  compareStatement: 'compare list',
  keyStatement: 'key file name',
  autoStatement: 'auto method',
  backupDirectoryStatement: 'backup directory',
  backupGenerationsStatement: 'backup generations count',
  patternStatement: 'action pattern list',
  execStatement: 'exec command list',
  logfileStatement: 'log file name',
  doLocalStatement: "'do-local'",
  doLocalOnlyStatement: "'do-local-only'",
  prefixEntry: 'prefix path',
  nosslStatement: 'two nossl host patterns',
  databaseStatement: 'database name',
  tempdirStatement: 'temp directory',
  ignoreStatement: 'ignore list',
  lockTimeoutStatement: 'lock timeout',
  noCygwinLowercaseStatement: "'no-cygwin-lowercase'",
};

/** What a word stands for in each rule, for "expected a ... after ...". */
const WORD_NAMES: Record<string, string> = {
  keyStatement: "a key file name after 'key'",
  autoStatement: "an auto method after 'auto'",
  backupDirectoryStatement: "a directory after 'backup-directory'",
  backupGenerationsStatement: "a number after 'backup-generations'",
  logfileStatement: "a file name after 'logfile'",
  prefixBlock: "a prefix name after 'prefix'",
  nosslStatement: "two host patterns after 'nossl'",
  databaseStatement: "a database name after 'database'",
  tempdirStatement: "a directory after 'tempdir'",
  lockTimeoutStatement: "a number of seconds after 'lock-timeout'",
  hostStatement: "a host name (or interface name) after '@'",
};

export function describeToken(t: IToken): string {
  if (t.tokenType === chevrotain.EOF) return 'end of file';
  const value = toUtf8((t as CfgToken).value ?? t.image);
  if (t.tokenType === Word) return `'${value}'`;
  if (KEYWORDS.includes(t.tokenType)) return `keyword '${value}' (quote it to use it as a name)`;
  return `'${value}'`;
}

function expectation(ruleName: string, expected: TokenType, previous: IToken): string {
  if (expected === Semi && LIST_NAMES[ruleName]) return `expected ';' after the ${LIST_NAMES[ruleName]}`;
  if (expected === Word && WORD_NAMES[ruleName]) return `expected ${WORD_NAMES[ruleName]}`;
  if (expected === RBrace && ruleName === 'groupBlock') return `expected ${GROUP_STATEMENTS} or '}' to end the group`;
  if (expected === RBrace && ruleName === 'actionBlock') return "expected 'pattern', 'exec', 'logfile', 'do-local', 'do-local-only' or '}' to end the action block";
  if (expected === RBrace && ruleName === 'prefixBlock') return "expected 'on HOST: PATH;' or '}' to end the prefix block";
  if (expected === LBrace && ruleName === 'groupBlock') return `expected '{' after ${previous.tokenType === Word ? 'the group name' : "'group'"}`;
  if (expected === LBrace) return `expected '{' after ${describeToken(previous)}`;
  if (expected === Colon) return "expected ':' after the host pattern (write 'on HOST: /path;' with a blank after the colon)";
  if (expected === Word && ruleName === 'prefixEntry') return previous.tokenType === On ? "expected a host pattern after 'on'" : "expected a path after ':'";
  if (expected === RParen) return "expected ')' to close the slave host list";
  return `expected ${expected.LABEL ?? expected.name}`;
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, previous, ruleName }) =>
    `${expectation(ruleName, expected, previous)}, found ${describeToken(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => {
    const t = firstRedundant.tokenType;
    if ([Host, Key, Include, Exclude, Compare, Auto, BackupDirectory, BackupGenerations, Action].includes(t)) {
      return `${describeToken(firstRedundant)} is only allowed inside a group`;
    }
    if ([Pattern, Exec, Logfile, DoLocal, DoLocalOnly].includes(t)) return `${describeToken(firstRedundant)} is only allowed inside an action block`;
    if (t === On) return "'on' is only allowed inside a prefix block";
    return `expected ${ROOT_STATEMENTS} at top level, found ${describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage: ({ actual, ruleName }) => `unexpected ${describeToken(actual[0]!)} in ${ruleName}`,
  buildEarlyExitMessage: ({ actual, ruleName }) => `unexpected ${describeToken(actual[0]!)} in ${ruleName}`,
};

export class ConfigParser extends chevrotain.EmbeddedActionsParser {
  private sink: ConfigSink | null = null;

  /** `validate`: run chevrotain's grammar checks (ambiguities, left recursion); tests do, start-up skips them. */
  constructor(validate = false) {
    super(PARSER_TOKENS, { maxLookahead: 1, recoveryEnabled: false, errorMessageProvider: messages, skipValidations: !validate });
    this.performSelfAnalysis();
  }

  /** Parses the stream, calling the sink; returns the first syntax error (or null). */
  run(tokens: CfgToken[], sink: ConfigSink): { token: IToken; what: string } | null {
    this.sink = sink;
    this.input = tokens;
    try {
      this.config();
    } finally {
      this.sink = null;
    }
    const err = this.errors[0];
    if (!err) return null;
    if (err.token.tokenType === IncludeFailure) sink.scannerFailure(err.token as CfgToken);
    return { token: err.token, what: err.message };
  }

  private get out(): ConfigSink {
    return this.sink!;
  }

  private word(): CfgToken {
    return this.CONSUME(Word) as CfgToken;
  }

  private readonly config = this.RULE('config', () => {
    this.MANY(() => this.SUBRULE(this.block));
  });

  private readonly block = this.RULE('block', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.groupBlock) },
      { ALT: () => this.SUBRULE(this.prefixBlock) },
      { ALT: () => this.SUBRULE(this.nosslStatement) },
      { ALT: () => this.SUBRULE(this.databaseStatement) },
      { ALT: () => this.SUBRULE(this.tempdirStatement) },
      { ALT: () => this.SUBRULE(this.ignoreStatement) },
      { ALT: () => this.SUBRULE(this.noCygwinLowercaseStatement) },
      { ALT: () => this.SUBRULE(this.lockTimeoutStatement) },
    ]);
  });

  private readonly groupBlock = this.RULE('groupBlock', () => {
    const keyword = this.CONSUME(Group) as CfgToken;
    let name: CfgToken | null = null;
    this.OPTION(() => { name = this.word(); });
    this.ACTION(() => this.out.newGroup(keyword, name));
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.hostStatement) },
        { ALT: () => this.SUBRULE(this.includeStatement) },
        { ALT: () => this.SUBRULE(this.excludeStatement) },
        { ALT: () => this.SUBRULE(this.compareStatement) },
        { ALT: () => this.SUBRULE(this.keyStatement) },
        { ALT: () => this.SUBRULE(this.autoStatement) },
        { ALT: () => this.SUBRULE(this.backupDirectoryStatement) },
        { ALT: () => this.SUBRULE(this.backupGenerationsStatement) },
        { ALT: () => this.SUBRULE(this.actionBlock) },
      ]);
    });
    const close = this.CONSUME(RBrace) as CfgToken;
    this.ACTION(() => this.out.endGroup(close));
  });

  private readonly hostStatement = this.RULE('hostStatement', () => {
    this.CONSUME(Host);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.hostItem, { ARGS: [false] }) },
        {
          ALT: () => {
            this.CONSUME(LParen);
            this.MANY2(() => this.SUBRULE2(this.hostItem, { ARGS: [true] }));
            this.CONSUME(RParen);
          },
        },
      ]);
    });
    this.CONSUME(Semi);
  });

  private readonly hostItem = this.RULE('hostItem', (slave: boolean) => {
    const host = this.word();
    let iface: CfgToken | null = null;
    this.OPTION(() => {
      this.CONSUME(At);
      iface = this.CONSUME2(Word) as CfgToken;
    });
    this.ACTION(() => this.out.addHost(host, iface, slave));
  });

  private patternList(keyword: TokenType, kind: 'include' | 'exclude'): void {
    this.CONSUME(keyword);
    this.MANY(() => {
      const w = this.word();
      this.ACTION(() => this.out.addPattern(kind, w));
    });
    this.CONSUME(Semi);
  }

  private readonly includeStatement = this.RULE('includeStatement', () => this.patternList(Include, 'include'));
  private readonly excludeStatement = this.RULE('excludeStatement', () => this.patternList(Exclude, 'exclude'));

  private readonly compareStatement = this.RULE('compareStatement', () => {
    this.CONSUME(Compare);
    const words: CfgToken[] = [];
    this.MANY(() => { words.push(this.word()); });
    this.ACTION(() => {
      words.forEach((w, i) => this.out.addPattern(i === words.length - 1 ? 'compare' : 'include', w));
    });
    this.CONSUME(Semi);
  });

  private readonly keyStatement = this.RULE('keyStatement', () => {
    const keyword = this.CONSUME(Key) as CfgToken;
    const file = this.word();
    this.ACTION(() => this.out.setKey(keyword, file));
    this.CONSUME(Semi);
  });

  private readonly autoStatement = this.RULE('autoStatement', () => {
    const keyword = this.CONSUME(Auto) as CfgToken;
    const method = this.word();
    this.ACTION(() => this.out.setAuto(keyword, method));
    this.CONSUME(Semi);
  });

  private readonly backupDirectoryStatement = this.RULE('backupDirectoryStatement', () => {
    this.CONSUME(BackupDirectory);
    const dir = this.word();
    this.ACTION(() => this.out.setBackupDirectory(dir));
    this.CONSUME(Semi);
  });

  private readonly backupGenerationsStatement = this.RULE('backupGenerationsStatement', () => {
    this.CONSUME(BackupGenerations);
    const count = this.word();
    this.ACTION(() => this.out.setBackupGenerations(count));
    this.CONSUME(Semi);
  });

  private readonly actionBlock = this.RULE('actionBlock', () => {
    const keyword = this.CONSUME(Action) as CfgToken;
    this.ACTION(() => this.out.newAction(keyword));
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.patternStatement) },
        { ALT: () => this.SUBRULE(this.execStatement) },
        { ALT: () => this.SUBRULE(this.logfileStatement) },
        { ALT: () => this.SUBRULE(this.doLocalStatement) },
        { ALT: () => this.SUBRULE(this.doLocalOnlyStatement) },
      ]);
    });
    this.CONSUME(RBrace);
  });

  private readonly patternStatement = this.RULE('patternStatement', () => {
    this.CONSUME(Pattern);
    this.MANY(() => {
      const w = this.word();
      this.ACTION(() => this.out.addActionPattern(w));
    });
    this.CONSUME(Semi);
  });

  private readonly execStatement = this.RULE('execStatement', () => {
    this.CONSUME(Exec);
    this.MANY(() => {
      const w = this.word();
      this.ACTION(() => this.out.addActionExec(w));
    });
    this.CONSUME(Semi);
  });

  private readonly logfileStatement = this.RULE('logfileStatement', () => {
    this.CONSUME(Logfile);
    const file = this.word();
    this.ACTION(() => this.out.setActionLogfile(file));
    this.CONSUME(Semi);
  });

  private readonly doLocalStatement = this.RULE('doLocalStatement', () => {
    this.CONSUME(DoLocal);
    this.ACTION(() => this.out.setActionDoLocal());
    this.CONSUME(Semi);
  });

  private readonly doLocalOnlyStatement = this.RULE('doLocalOnlyStatement', () => {
    this.CONSUME(DoLocalOnly);
    this.ACTION(() => this.out.setActionDoLocalOnly());
    this.CONSUME(Semi);
  });

  private readonly prefixBlock = this.RULE('prefixBlock', () => {
    this.CONSUME(Prefix);
    const name = this.word();
    this.ACTION(() => this.out.newPrefix(name));
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.prefixEntry));
    this.CONSUME(RBrace);
  });

  private readonly prefixEntry = this.RULE('prefixEntry', () => {
    this.CONSUME(On);
    const host = this.word();
    this.CONSUME(Colon);
    const path = this.CONSUME2(Word) as CfgToken;
    this.CONSUME(Semi);
    this.ACTION(() => this.out.addPrefixEntry(host, path));
  });

  private readonly nosslStatement = this.RULE('nosslStatement', () => {
    this.CONSUME(Nossl);
    const from = this.word();
    const to = this.CONSUME2(Word) as CfgToken;
    this.CONSUME(Semi);
    this.ACTION(() => this.out.addNossl(from, to));
  });

  private readonly databaseStatement = this.RULE('databaseStatement', () => {
    this.CONSUME(Database);
    const url = this.word();
    this.CONSUME(Semi);
    this.ACTION(() => this.out.setDatabase(url));
  });

  private readonly tempdirStatement = this.RULE('tempdirStatement', () => {
    this.CONSUME(Tempdir);
    const dir = this.word();
    this.CONSUME(Semi);
    this.ACTION(() => this.out.setTempdir(dir));
  });

  private readonly ignoreStatement = this.RULE('ignoreStatement', () => {
    this.CONSUME(Ignore);
    const words: CfgToken[] = [];
    this.MANY(() => { words.push(this.word()); });
    this.ACTION(() => {
      // bison has read the token after the list before it reduces the
      // (right-recursive) list, innermost = last word first.
      const next = this.LA(1) as CfgToken;
      if (next.tokenType === IncludeFailure) this.out.scannerFailure(next);
      for (let i = words.length - 1; i >= 0; i--) this.out.addIgnore(words[i]!);
    });
    this.CONSUME(Semi);
  });

  private readonly noCygwinLowercaseStatement = this.RULE('noCygwinLowercaseStatement', () => {
    const keyword = this.CONSUME(NoCygwinLowercase) as CfgToken;
    this.CONSUME(Semi);
    this.ACTION(() => this.out.noCygwinLowercase(keyword));
  });

  private readonly lockTimeoutStatement = this.RULE('lockTimeoutStatement', () => {
    this.CONSUME(LockTimeout);
    const seconds = this.word();
    this.CONSUME(Semi);
    this.ACTION(() => this.out.setLockTimeout(seconds));
  });
}

let shared: ConfigParser | null = null;

/** One parser instance is enough (construction runs chevrotain's grammar analysis once). */
export function configParser(): ConfigParser {
  return (shared ??= new ConfigParser());
}
