// The slice of pino the cloud link logs through (a pino Logger fits; tests pass a silent one).
export interface CloudLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
