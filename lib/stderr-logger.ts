// A logger for short-lived or personal processes (`kubectl sluice dashboard`): the same JSON lines
// on stderr as lib/logger.ts writes, without loading winston (some 11 MiB of a process meant to
// stay small on a laptop).

export interface Log {
  info(message: string, meta?: object): void;
  warn(message: string, meta?: object): void;
  error(message: string, meta?: object): void;
}

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;

export function stderrLogger(component: string): Log {
  const max = LEVELS[(process.env.SLUICE_LOG_LEVEL ?? 'info') as keyof typeof LEVELS] ?? LEVELS.info;
  const write = (level: keyof typeof LEVELS) => (message: string, meta?: object) => {
    if (LEVELS[level] > max) return;
    process.stderr.write(`${JSON.stringify({ ...meta, component, level, message, timestamp: new Date().toISOString() })}\n`);
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}
