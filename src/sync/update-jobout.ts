/**
 * Output of one speculative file job. A pipelined job may run ahead of the
 * jobs before it and may turn out never to have happened in csync2's
 * sequential order (the connection closed earlier, the pass was restarted):
 * so it writes into a private buffer first, and only a confirmed job's lines
 * are replayed into its place in the ordered output.
 */
import { formatWireDump, type WireDirection, type WireTap } from '../protocol/wiredump.js';
import type { BStr } from '../util/bytes.js';
import { log } from '../util/log.js';
import type { OutNode, UpdateOut } from './update-output.js';

type Item = { kind: 'debug' | 'raw'; lv: number; text: BStr } | { kind: 'stdout' | 'wire'; text: BStr };

export class JobOut implements UpdateOut {
  private items: Item[] | null = [];
  private target: OutNode | null = null;
  readonly tap: WireTap | null;

  constructor() {
    this.tap = log.enabled(3)
      ? (dir: WireDirection, bytes: Uint8Array): void => this.put({ kind: 'wire', text: formatWireDump(dir, bytes, log.sessionPid) })
      : null;
  }

  debug(lv: number, line: BStr): void {
    if (log.enabled(lv)) this.put({ kind: 'debug', lv, text: line });
  }

  raw(lv: number, text: BStr): void {
    if (log.enabled(lv)) this.put({ kind: 'raw', lv, text });
  }

  stdout(line: BStr): void {
    this.put({ kind: 'stdout', text: line });
  }

  /** Everything so far goes to `node`, and so does everything later. */
  confirm(node: OutNode): void {
    const items = this.items ?? [];
    this.items = null;
    this.target = node;
    for (const it of items) this.send(it);
  }

  /** Forget what was buffered; later output is dropped too. */
  drop(): void {
    this.items = null;
    this.target = null;
  }

  private put(it: Item): void {
    if (this.target) this.send(it);
    else this.items?.push(it);
  }

  private send(it: Item): void {
    const t = this.target!;
    switch (it.kind) {
      case 'debug': t.debug(it.lv, it.text); break;
      case 'raw': t.raw(it.lv, it.text); break;
      case 'stdout': t.stdout(it.text); break;
      case 'wire': t.wireText(it.text); break;
    }
  }
}
