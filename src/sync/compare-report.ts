/**
 * What -T prints. The csync2 form is one line per difference,
 * `<L|R|X>\t<myname>\t<peer>\t<file>`. Beyond csync2, with CSYNC2_TS_JSON=1 in
 * the environment the same run prints JSON lines for monitoring instead (one
 * object per difference, one per host pair, one summary; exit codes unchanged).
 * An environment switch keeps the command line exactly csync2's: a script that
 * sets it runs unchanged against the real csync2 and just gets the text form.
 */
import { printLine } from '../cli/output.js';
import { toBuf, type BStr } from '../util/bytes.js';
import { checktxtOf, type Difference } from './compare-merge.js';

export const JSON_ENV = 'CSYNC2_TS_JSON';

export type PairStatus = 'in_sync' | 'differences' | 'error';

export interface PairResult {
  myname: BStr;
  peer: BStr;
  status: PairStatus;
  localOnly: number;
  remoteOnly: number;
  differs: number;
  /** The first error message of this pair, if any. */
  error: BStr | null;
}

export interface Reporter {
  difference(myname: BStr, peer: BStr, d: Difference, marked: boolean): void;
  pair(p: PairResult): void;
  /** After the last pair; `errors` = errors counted in the whole run so far. */
  finish(errors: number): void;
}

export function jsonWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[JSON_ENV];
  return v !== undefined && v !== '' && v !== '0';
}

export function createReporter(json: boolean): Reporter {
  return json ? new JsonReporter() : new TextReporter();
}

class TextReporter implements Reporter {
  difference(myname: BStr, peer: BStr, d: Difference): void {
    printLine(`${d.kind}\t${myname}\t${peer}\t${d.file}`);
  }

  pair(): void { /* csync2 prints nothing per pair */ }

  finish(): void { /* nor at the end */ }
}

const STATE = { L: 'local_only', R: 'remote_only', X: 'differs' } as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

/**
 * Puts a byte string into a JSON object: as text when its bytes are valid UTF-8;
 * otherwise as text with U+FFFD replacements plus `<key>_base64` with the exact bytes.
 */
function putText(obj: Record<string, unknown>, key: string, s: BStr | null): void {
  if (s === null) {
    obj[key] = null;
    return;
  }
  const bytes = toBuf(s);
  try {
    obj[key] = utf8.decode(bytes);
  } catch {
    obj[key] = lossy.decode(bytes);
    obj[`${key}_base64`] = bytes.toString('base64');
  }
}

class JsonReporter implements Reporter {
  private pairs = 0;
  private inSync = 0;
  private outOfSync = 0;
  private failed = 0;
  private differences = 0;

  difference(myname: BStr, peer: BStr, d: Difference, marked: boolean): void {
    this.differences++;
    const o: Record<string, unknown> = { type: 'difference', kind: d.kind, state: STATE[d.kind] };
    putText(o, 'myname', myname);
    putText(o, 'peer', peer);
    putText(o, 'file', d.file);
    putText(o, 'local_checktxt', d.local ? checktxtOf(d.local) : null);
    putText(o, 'remote_checktxt', d.remote ? checktxtOf(d.remote) : null);
    o.marked_dirty = marked;
    this.emit(o);
  }

  pair(p: PairResult): void {
    this.pairs++;
    if (p.status === 'in_sync') this.inSync++;
    else if (p.status === 'differences') this.outOfSync++;
    else this.failed++;
    const o: Record<string, unknown> = { type: 'pair' };
    putText(o, 'myname', p.myname);
    putText(o, 'peer', p.peer);
    o.status = p.status;
    o.local_only = p.localOnly;
    o.remote_only = p.remoteOnly;
    o.differs = p.differs;
    putText(o, 'error', p.error);
    this.emit(o);
  }

  finish(errors: number): void {
    const status: PairStatus = errors > 0 || this.failed > 0 ? 'error' : this.outOfSync > 0 ? 'differences' : 'in_sync';
    this.emit({
      type: 'summary', status, pairs: this.pairs, in_sync: this.inSync, out_of_sync: this.outOfSync,
      failed: this.failed, differences: this.differences, errors,
    });
  }

  private emit(o: Record<string, unknown>): void {
    // JSON.stringify yields UTF-16 text; stdout takes byte strings.
    printLine(Buffer.from(JSON.stringify(o), 'utf8').toString('latin1'));
  }
}
