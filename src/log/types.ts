/**
 * The one logging contract every module takes (in `deps`). The concrete
 * implementation is src/log/logger.ts; tests may pass any object of this shape.
 */
export interface Logger {
  debug: (msg: string, fields?: Record<string, unknown>) => void;
  info: (msg: string, fields?: Record<string, unknown>) => void;
  warn: (msg: string, fields?: Record<string, unknown>) => void;
  error: (msg: string, fields?: Record<string, unknown>) => void;
}
