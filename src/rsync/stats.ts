/** Command counts of a delta, like librsync's rs_stats_t (rdiff -s prints them). */

export interface DeltaStats {
  literalCommands: number;
  literalBytes: number;
  literalCommandBytes: number;
  copyCommands: number;
  copyBytes: number;
  copyCommandBytes: number;
}

export function emptyStats(): DeltaStats {
  return { literalCommands: 0, literalBytes: 0, literalCommandBytes: 0, copyCommands: 0, copyBytes: 0, copyCommandBytes: 0 };
}

