// One JSON logger for every process; each entry carries the component and, where there is one,
// the object it concerns (`key`: namespace/name), so a rollout's history greps out of the logs.
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(component: string): Logger {
  return winston.createLogger({
    level: process.env.SLUICE_LOG_LEVEL ?? 'info',
    defaultMeta: { component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
