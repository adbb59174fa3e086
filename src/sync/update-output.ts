/**
 * Ordered output for work that runs concurrently but must print like the
 * sequential csync2 client: every peer session and every file job writes into
 * its own node; nodes are released in the order they were created, so the
 * lines come out exactly as if the jobs had run one after another.
 *
 * A node writes straight through while it is "live" (its parent is live and
 * every earlier sibling has finished); otherwise it buffers. A discarded node
 * (a job csync2 would never have run) drops everything.
 */
import { printLine } from '../cli/output.js';
import { formatWireDump, type WireDirection, type WireTap } from '../protocol/wiredump.js';
import type { BStr } from '../util/bytes.js';
import { toBuf } from '../util/bytes.js';
import { log } from '../util/log.js';
import { writeFullyOrDrop } from '../util/fdwrite.js';

/** What update code prints: debug lines, raw text, dry-run lines on stdout, -vvv wire dumps. */
export interface UpdateOut {
  debug(lv: number, line: BStr): void;
  /** Text without an added newline (csync2's `auto resolving... response = <n>`). */
  raw(lv: number, text: BStr): void;
  stdout(line: BStr): void;
  /** The -vvv dump of bytes sent or received (null below level 3). */
  readonly tap: WireTap | null;
}

/** One piece of output, as a node or a job keeps it until it may print. */
export type OutEntry =
  | { kind: 'debug' | 'raw'; lv: number; text: BStr }
  | { kind: 'stdout'; text: BStr }
  | { kind: 'wire'; text: BStr };

/** UpdateOut as entries handed to put(): what OutNode and a job's JobOut share. */
export abstract class EntryOut implements UpdateOut {
  readonly tap: WireTap | null;

  constructor() {
    // Formatted at once: the bytes may live in a buffer that is reused later.
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

  protected abstract put(e: OutEntry): void;
}

/** Called around every write to stderr (the progress line clears itself). */
export interface StderrGuard {
  beforeStderr(): void;
  afterStderr(): void;
}

const noGuard: StderrGuard = { beforeStderr() {}, afterStderr() {} };

export class OutNode extends EntryOut {
  private readonly items: (OutEntry | OutNode)[] = [];
  private live: boolean;
  private pumping = false;
  private closed = false;
  private discarded = false;

  private constructor(private readonly parent: OutNode | null, private readonly guard: StderrGuard) {
    super();
    this.live = parent === null;
  }

  /** The root: always live. */
  static root(guard: StderrGuard = noGuard): OutNode {
    return new OutNode(null, guard);
  }

  /** A new node after everything written to this one so far. */
  child(): OutNode {
    const c = new OutNode(this, this.guard);
    if (this.discarded) {
      c.discarded = true;
      c.closed = true;
      return c;
    }
    this.items.push(c);
    if (this.live && this.items.length === 1) c.activate();
    return c;
  }

  /** An already formatted -vvv wire dump line. */
  wireText(text: BStr): void {
    this.put({ kind: 'wire', text });
  }

  /** No more output will come; later siblings may print once this one is flushed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.finishIfDone();
  }

  /** Drop everything this node (and its children) printed or will print. */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    for (const it of this.items) if (it instanceof OutNode) it.discard();
    this.items.length = 0;
    this.close();
  }

  get isDiscarded(): boolean {
    return this.discarded;
  }

  private get finished(): boolean {
    return this.closed && this.items.length === 0;
  }

  protected put(e: OutEntry): void {
    if (this.discarded) return;
    if (this.live && this.items.length === 0) emit(e, this.guard);
    else this.items.push(e);
  }

  private activate(): void {
    if (this.live) return;
    this.live = true;
    this.pump();
  }

  /** Emit buffered items up to the first child that is not finished. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.items.length > 0) {
        const head = this.items[0]!;
        if (head instanceof OutNode) {
          head.activate();
          if (!head.finished) return;
        } else {
          emit(head, this.guard);
        }
        this.items.shift();
      }
    } finally {
      this.pumping = false;
    }
    this.finishIfDone();
  }

  private finishIfDone(): void {
    if (!this.finished || !this.parent) return;
    const p = this.parent;
    // Inside the parent's pump loop: it sees this child finished and moves on.
    if (p.pumping) return;
    if (p.live && p.items[0] === this) {
      p.items.shift();
      p.pump();
    } else if (this.discarded) {
      const i = p.items.indexOf(this);
      if (i >= 0) p.items.splice(i, 1);
      if (i === 0 && p.live) p.pump();
    }
  }
}

function emit(e: OutEntry, guard: StderrGuard): void {
  switch (e.kind) {
    case 'stdout':
      printLine(e.text);
      return;
    case 'debug':
      guard.beforeStderr();
      log.debug(e.lv, e.text);
      guard.afterStderr();
      return;
    case 'raw':
      guard.beforeStderr();
      log.raw(e.lv, e.text);
      guard.afterStderr();
      return;
    case 'wire':
      writeFullyOrDrop(log.fd, toBuf(e.text + '\n'));
  }
}
