/**
 * The token stream the parser reads: the main file's tokens with every
 * `config FILE;` include spliced in, as csync2's scanner delivers them.
 *
 * Each token remembers where it really is (file, line, column: for our second
 * error line) and csync2's `yylineno` after it: flex keeps ONE line counter
 * across included files, so csync2's "Near line N" counts the lines of every
 * file scanned so far. An include that cannot be opened (or is nested too
 * deeply) ends the stream with an IncludeFailure token: csync2 exits at the
 * moment its parser asks for that token.
 */
import { readFileSync } from 'node:fs';
import type { IToken } from 'chevrotain';
import './chevrotain-ready.js';
import { chevrotain } from './chevrotain.js';
import { fromBuf, toBuf, toUtf8, type BStr } from '../util/bytes.js';
import { strerror } from '../util/errors.js';
import {
  Blank, Comment, Config, InclBlank, InclEnd, InclJunk, InclName, IncludeFailure, lexFile, Quoted, Word,
} from './lexer.js';
import { SCANNER_READ_FAILED } from './flex.js';

export { SCANNER_READ_FAILED };

/** flex scanner: MAX_INCLUDE_DEPTH. */
const MAX_INCLUDE_DEPTH = 10;

export interface Place {
  /** The file as csync2 names it (main file path, or the include name as written). */
  file: string;
  line: number;
  column: number;
}

export interface CfgToken extends IToken {
  /** Word value (quotes removed, cut at a NUL byte like strdup()). Other tokens: their text. */
  value: BStr;
  place: Place;
  /** csync2's yylineno once this token has been scanned. */
  nearLine: number;
  /** IncludeFailure only: csync2's message and our explanation. */
  failure?: { message: BStr; detail: string };
}

export interface TokenStream {
  tokens: CfgToken[];
  /** Where the main file ends, and yylineno there (for errors at end of input). */
  end: Place & { nearLine: number };
}

/** Reads an included file's bytes (relative to the process's working directory, like fopen()). */
export type IncludeReader = (name: BStr) => Buffer;

export const readIncludeFromCwd: IncludeReader = (name) => readFileSync(toBuf(name));

function countLf(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export function buildTokenStream(mainText: BStr, mainFile: string, readInclude: IncludeReader = readIncludeFromCwd): TokenStream {
  const tokens: CfgToken[] = [];
  let lines = 0; // LFs counted by flex so far, over all files
  let stopped = false;

  const fail = (at: IToken, file: string, message: BStr, detail: string): void => {
    const t = chevrotain.createTokenInstance(IncludeFailure, at.image, at.startOffset, at.endOffset ?? at.startOffset,
      at.startLine ?? 1, at.endLine ?? 1, at.startColumn ?? 1, at.endColumn ?? 1) as CfgToken;
    t.value = at.image;
    t.place = { file, line: at.startLine ?? 1, column: at.startColumn ?? 1 };
    t.nearLine = lines + 1;
    t.failure = { message, detail };
    tokens.push(t);
    stopped = true;
  };

  const scan = (text: BStr, file: string, depth: number): void => {
    for (const raw of lexFile(text)) {
      if (stopped) return;
      const type = raw.tokenType;
      if (type === InclJunk) continue; // flex's default rule: not counted as a line
      if (type === InclBlank || type === InclEnd || type === Config) continue;
      if (type === Blank || type === Comment) {
        lines += countLf(raw.image);
        continue;
      }
      if (type === InclName) {
        // fopen() gets the C string: a NUL byte ends the name.
        const nulAt = raw.image.indexOf('\0');
        const name = nulAt >= 0 ? raw.image.slice(0, nulAt) : raw.image;
        const where = `${file}:${raw.startLine}:${raw.startColumn}`;
        if (depth >= MAX_INCLUDE_DEPTH) {
          fail(raw, file, 'Config includes nested too deeply.',
            `${where}: including '${toUtf8(name)}' would nest more than ${MAX_INCLUDE_DEPTH} config files`);
          return;
        }
        let body: Buffer;
        try {
          body = readInclude(name);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
            // fopen() opens a directory; flex then fails reading it.
            fail(raw, file, SCANNER_READ_FAILED, `${where}: '${toUtf8(name)}' is a directory, not a config file`);
            return;
          }
          fail(raw, file, `Can't open included config file '${name}'.`,
            `${where}: cannot open '${toUtf8(name)}' (relative to the working directory ${process.cwd()}): ${strerror(err)}`);
          return;
        }
        scan(fromBuf(body), toUtf8(name), depth + 1);
        continue;
      }
      lines += countLf(raw.image);
      const t = raw as CfgToken;
      let value = raw.image;
      if (type === Quoted) {
        value = value.slice(1, value.endsWith('"') && value.length > 1 ? -1 : undefined);
        if (value === '') continue; // `""` produces no token at all
        t.tokenType = Word;
        t.tokenTypeIdx = Word.tokenTypeIdx!;
      }
      const nul = value.indexOf('\0');
      t.value = nul >= 0 ? value.slice(0, nul) : value;
      t.place = { file, line: raw.startLine ?? 1, column: raw.startColumn ?? 1 };
      t.nearLine = lines + 1;
      tokens.push(t);
    }
  };

  scan(mainText, mainFile, 0);
  const lastLine = countLf(mainText) + 1;
  const lastLf = mainText.lastIndexOf('\n');
  return {
    tokens,
    end: { file: mainFile, line: lastLine, column: mainText.length - lastLf, nearLine: lines + 1 },
  };
}
