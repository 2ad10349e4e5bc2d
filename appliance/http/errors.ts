// The one error catalogue of the HTTP API. Every error body is {error, message, details}; `error`
// is a stable code that clients and tests match on, `message` is for people.
import type { FastifyError, FastifyInstance } from 'fastify';
import { ConflictError, NotFoundError } from '../store/store.ts';
import { IllegalTransitionError } from '../lifecycle/lifecycle.ts';

export const ERROR_CODES = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  csrf_failed: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.details = details ?? null;
  }
  get status(): number { return ERROR_CODES[this.code]; }
}

export const errorBodySchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, details: {} },
} as const;

/** Response schemas for the error statuses routes answer with: every one is the same body. */
export const errorResponses = Object.fromEntries(
  [...new Set(Object.values(ERROR_CODES))].filter((s) => s < 500).map((s) => [s, errorBodySchema]),
) as Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 429, typeof errorBodySchema>;

function fromFastify(e: FastifyError): ApiError {
  if (e.validation) {
    const first = e.validation[0];
    const where = e.validationContext ?? 'request';
    const path = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
    return new ApiError('bad_request', `${path} ${first?.message ?? 'is invalid'}`, { context: where, problems: e.validation.map((v) => ({ path: v.instancePath, message: v.message, params: v.params })) });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new ApiError('payload_too_large', 'request body is larger than the server accepts', { limit: e.message });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new ApiError('unsupported_media_type', 'send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return new ApiError('bad_request', 'the JSON body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return new ApiError('bad_request', `the body is not valid JSON: ${e.message}`);
    default: break;
  }
  if (e instanceof SyntaxError) return new ApiError('bad_request', `the body is not valid JSON: ${e.message}`);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new ApiError(e.statusCode === 404 ? 'not_found' : e.statusCode === 413 ? 'payload_too_large' : 'bad_request', e.message);
  return new ApiError('internal', 'internal error');
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof NotFoundError) return new ApiError('not_found', e.message);
  if (e instanceof ConflictError) return new ApiError('conflict', e.message);
  if (e instanceof IllegalTransitionError) return new ApiError('illegal_transition', e.message, { from: e.from, to: e.to });
  return fromFastify(e as FastifyError);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err);
    if (api.code === 'internal') request.log.error({ err }, 'unhandled error');
    else request.log.info({ code: api.code, msg: api.message }, 'request refused');
    void reply.status(api.status).send({ error: api.code, message: api.message, details: api.details });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, details: null });
  });
}
