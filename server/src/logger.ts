import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs. Tokens, passwords and message bodies are never written. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'derm-realtime' },
    redact: {
      paths: ['req.headers.authorization', 'authorization', 'password', 'token', '*.password', '*.token', '*.body'],
      censor: '[redacted]',
    },
  });
}
