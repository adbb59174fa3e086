/**
 * Output of one speculative file job. A pipelined job may run ahead of the
 * jobs before it and may turn out never to have happened in csync2's
 * sequential order (the connection closed earlier, the pass was restarted):
 * so it writes into a private buffer first, and only a confirmed job's lines
 * are replayed into its place in the ordered output.
 */
import type { BStr } from '../util/bytes.js';
import { EntryOut, type OutEntry, type OutNode } from './update-output.js';

export class JobOut extends EntryOut {
  private items: OutEntry[] | null = [];
  private target: OutNode | null = null;

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

  protected put(it: OutEntry): void {
    if (this.target) this.send(it);
    else this.items?.push(it);
  }

  private send(it: OutEntry): void {
    const t = this.target!;
    switch (it.kind) {
      case 'debug': t.debug(it.lv, it.text); break;
      case 'raw': t.raw(it.lv, it.text); break;
      case 'stdout': t.stdout(it.text); break;
      case 'wire': t.wireText(it.text); break;
    }
  }
}
