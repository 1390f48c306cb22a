import type { TokenCancelled, TokenCompleted, TokenStatus, TokenTimedOut } from '@waitpoints/contracts';

export interface TerminalColumns {
  status: Exclude<TokenStatus, 'WAITING'>;
  finishedAt: string;
  /** Null when the token was completed without data. */
  output: string | null;
  outputType: string;
  outputIsError: boolean;
  completedBy: string;
}

/** What a terminal event writes onto its token's row (one mapping for every write path). */
export function terminalColumns(event: TokenCompleted | TokenTimedOut | TokenCancelled): TerminalColumns {
  switch (event.type) {
    case 'TokenCompleted': {
      const d = event.data;
      return { status: 'COMPLETED', finishedAt: d.completedAt, output: d.output ?? null, outputType: d.outputType, outputIsError: false, completedBy: d.channel };
    }
    case 'TokenTimedOut': {
      const d = event.data;
      const completedBy = d.forced ? 'operator' : 'scheduler';
      return { status: 'TIMED_OUT', finishedAt: d.timedOutAt, output: d.output, outputType: 'application/json', outputIsError: true, completedBy };
    }
    case 'TokenCancelled': {
      const d = event.data;
      return { status: 'CANCELLED', finishedAt: d.cancelledAt, output: d.output, outputType: 'application/json', outputIsError: true, completedBy: 'operator' };
    }
  }
}
