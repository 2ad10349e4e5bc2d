// metav1.Status bodies exactly as apimachinery's api/errors builds them. kubectl prints the
// server's message only when the body has `kind: Status`; otherwise it invents its own text, so
// every failure the double returns goes through here.

export interface StatusDetails { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] }
export interface StatusCause { reason: string; message: string; field: string }

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A failure that the HTTP layer turns into a Status body with `code` as the HTTP status. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? String(status.code));
    this.status = status;
  }
}

/** The resource as errors name it: `secrets`, `certificatesigningrequests.certificates.k8s.io`. */
export interface GroupResource { group: string; resource: string }
const qualified = (gr: GroupResource) => (gr.group ? `${gr.resource}.${gr.group}` : gr.resource);
const details = (gr: GroupResource, name: string): StatusDetails =>
  gr.group ? { name, group: gr.group, kind: gr.resource } : { name, kind: gr.resource };

export function failure(code: number, reason: string, message: string, d?: StatusDetails): Status {
  // Key order as the real server writes it: kind, apiVersion, metadata, status, message, reason, details, code.
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message } as Status;
  if (reason) s.reason = reason;
  if (d) s.details = d;
  s.code = code;
  return s;
}

export const notFound = (gr: GroupResource, name: string) =>
  new ApiError(failure(404, 'NotFound', `${qualified(gr)} "${name}" not found`, details(gr, name)));

export const alreadyExists = (gr: GroupResource, name: string) =>
  new ApiError(failure(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, details(gr, name)));

export const conflict = (gr: GroupResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new ApiError(failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, details(gr, name)));

/** `name` empty for collection requests: `secrets is forbidden: ...` (no quotes, no details.name). */
export function forbidden(gr: GroupResource, name: string, why: string): ApiError {
  const subject = name ? `${qualified(gr)} "${name}"` : qualified(gr);
  const d: StatusDetails = name ? details(gr, name) : gr.group ? { group: gr.group, kind: gr.resource } : { kind: gr.resource };
  return new ApiError(failure(403, 'Forbidden', `${subject} is forbidden: ${why}`, d));
}

/** Non-resource URLs (`/api`, `/version`): `forbidden: User "x" cannot get path "/api"`. */
export const forbiddenPath = (user: string, verb: string, path: string) =>
  new ApiError(failure(403, 'Forbidden', `forbidden: User "${user}" cannot ${verb} path "${path}"`, {}));

/** The body of every 401: no details, no hint which authenticator refused. */
export const unauthorized = () => new ApiError(failure(401, 'Unauthorized', 'Unauthorized'));

/**
 * 422 as field.ErrorList.ToAggregate renders it: `Secret "x" is invalid: <field>: <msg>` for one
 * error, `[a, b]` for several. Invalid names the Kind (not the resource) plus `.group`.
 */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const agg = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const qk = group ? `${kind}.${group}` : kind;
  const d: StatusDetails = group ? { name, group, kind } : { name, kind };
  d.causes = causes;
  return new ApiError(failure(422, 'Invalid', `${qk} "${name}" is invalid: ${agg}`, d));
}

export const badRequest = (message: string) => new ApiError(failure(400, 'BadRequest', message));

export const methodNotAllowed = () =>
  new ApiError(failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));

/** A known group/version without such a resource. (Unknown paths outside /api(s) are plain text.) */
export const resourceNotFound = () =>
  new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource', {}));

export const tooLarge = (limit: number) =>
  new ApiError(failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`));

export const unsupportedMediaType = (accepted: string[]) =>
  new ApiError(failure(415, 'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`));

export const notAcceptable = (accepted: string[]) =>
  new ApiError(failure(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`));

/** The watch cache's answer for a resourceVersion older than what it still holds. */
export const expired = (requested: number, oldest: number) =>
  failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);

export const expiredContinue = () =>
  new ApiError(failure(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.'));

// What an overloaded or broken apiserver answers: APF's 429, etcd trouble, its own timeout filter.
const SERVER_ERRORS: Record<number, [string, string]> = {
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: etcdserver: leader changed'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded'],
};
export function serverError(code: number): Status {
  const [reason, message] = SERVER_ERRORS[code] ?? ['', `the server responded with the status code ${code}`];
  return failure(code, reason, message);
}

/** DELETE of an object whose store does not return it: Success Status naming what went. */
export function deleted(gr: GroupResource, name: string, uid: string): Record<string, unknown> {
  const d: StatusDetails = gr.group ? { name, group: gr.group, kind: gr.resource, uid } : { name, kind: gr.resource, uid };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: d };
}
