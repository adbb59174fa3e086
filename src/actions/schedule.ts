/**
 * Scheduling actions (action.c csync_schedule_commands): every mark on the
 * originating host (do-local blocks) and every applied change on a receiving
 * host (blocks that are not do-local-only) inserts (file, command, logfile)
 * rows; they run once per process at its end (run.ts).
 */
import type { RunContext } from '../sync/context.js';
import type { BStr } from '../util/bytes.js';

export function scheduleActions(ctx: RunContext, file: BStr, isLocal: boolean): void {
  for (const g of ctx.matcher.groupsFor(file)) {
    for (const a of g.actions) {
      if (!isLocal && a.doLocalOnly) continue;
      if (isLocal && !a.doLocal) continue;
      if (a.patterns.length > 0 && !ctx.matcher.actionMatches(a, file)) continue;
      for (const command of a.commands) ctx.store.addAction(file, command, a.logfile);
    }
  }
}
