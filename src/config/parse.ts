/**
 * The full parse of a csync2.cfg: scanner with includes, grammar, builder. It
 * loads chevrotain and builds the grammar (~65 ms of a start here), so load.ts
 * imports it only when the parse cache has no current recording of the file.
 */
import type { BStr } from '../util/bytes.js';
import { ConfigError } from '../util/errors.js';
import './chevrotain-ready.js';
import { chevrotain } from './chevrotain.js';
import type { ConfigSink } from './parser.js';
import { configParser } from './parser.js';
import { recordingSink, type CallRecord } from './recording.js';
import { buildTokenStream, readIncludeFromCwd, type CfgToken } from './source.js';

export interface ParseRecord {
  /** Included files as named in the config, with the bytes that were read. */
  includes: [name: BStr, bytes: Buffer][];
  calls: CallRecord[];
}

/** Parse `text` (the file `file`) into `sink`; throws ConfigError (syntax, scanner, or the sink's own). */
export function parseInto(text: BStr, file: string, sink: ConfigSink): ParseRecord {
  const rec: ParseRecord = { includes: [], calls: [] };
  const stream = buildTokenStream(text, file, (name) => {
    const bytes = readIncludeFromCwd(name);
    rec.includes.push([name, bytes]);
    return bytes;
  });
  const syntax = configParser().run(stream.tokens, recordingSink(sink, rec.calls));
  if (syntax) {
    const tok = syntax.token as CfgToken;
    const atEnd = tok.tokenType === chevrotain.EOF || !tok.place;
    const place = atEnd ? stream.end : tok.place;
    const nearLine = atEnd ? stream.end.nearLine : tok.nearLine;
    throw new ConfigError(`Near line ${nearLine}: syntax error`, place.file, place.line, place.column,
      `${place.file}:${place.line}:${place.column}: ${syntax.what}`);
  }
  return rec;
}
