// The process logger: pino, JSON lines. Anything that could carry a secret is redacted
// even if a future log call passes it by mistake.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'password', '*.password', 'client_secret', '*.client_secret', 'code', '*.code', 'refresh_token', '*.refresh_token',
  'access_token', '*.access_token', 'token', '*.token', 'code_verifier', '*.code_verifier',
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'latchkey' } };
  return destination ? pino(options, destination) : pino(options);
}
