/**
 * The pieces every route contract is built from: the error envelope, the status of each error
 * code, path and query parameters with their bounds, security schemes, and the hook that turns
 * a zod failure into the envelope. Routes declare themselves with `defineRoute`, so the schema a
 * route validates with is the one /openapi.json publishes.
 */
import { OpenAPIHono, z, type RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ZodError, ZodType } from 'zod';
import type { AppEnv } from './context';
import { ApiError, ERROR_CODES, statusOf, type ErrorCode } from './errors';
import { jsonBody } from './access';

/** Largest value of a PostgreSQL `integer` column (job ids, update ids). */
export const INT4_MAX = 2_147_483_647;
/** Batch ids are `bigint`, read as JavaScript numbers: bounded by what a double holds exactly. */
export const BATCH_ID_MAX = Number.MAX_SAFE_INTEGER;

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      field: z.string().optional().openapi({ description: 'dotted path of the offending value' }),
    }),
  })
  .openapi('Error');

const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  invalid_request: 'the request is malformed; `field` names what is wrong',
  unauthenticated: 'missing or invalid credentials',
  forbidden: 'not allowed for this caller',
  not_found: 'no such resource (or not visible to this caller)',
  conflict: 'conflicts with the current state',
  payload_too_large: 'the body exceeds the size limit',
  unavailable: 'a dependency is unavailable; retry',
  internal: 'internal server error',
};

/** Error responses a route can give, beyond the ones every route can (500, 503). */
export function errors(...codes: ErrorCode[]): RouteConfig['responses'] {
  const all = new Set<ErrorCode>([...codes, 'internal', 'unavailable']);
  const described = new Map<number, string>();
  for (const code of all) {
    const status = statusOf(code);
    const before = described.get(status);
    described.set(status, before ? `${before}; ${ERROR_DESCRIPTIONS[code]}` : ERROR_DESCRIPTIONS[code]);
  }
  return Object.fromEntries(
    [...described].map(([status, description]) => [status, { description, content: { 'application/json': { schema: ErrorEnvelope } } }]),
  );
}

export function json(schema: ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export function text(description: string) {
  return { description, content: { 'text/plain': { schema: z.string() } } };
}

/** An empty 200, as Hail answers cancels, deletes and bunch inserts. */
export const EMPTY = { description: 'done; the body is empty' };

/** A JSON request body, published in the document; read and checked by `readBody`. */
export function body(schema: ZodType, description: string) {
  return { required: true, description, content: { 'application/json': { schema } } };
}

function integerText(name: string, min: number, max: number) {
  return z
    .string()
    .refine((raw) => /^\d{1,16}$/.test(raw) && Number(raw) >= min && Number(raw) <= max, {
      error: `${name} must be an integer from ${min} to ${max}`,
    })
    .transform(Number)
    .openapi({ type: 'integer', minimum: min, maximum: max });
}

/** A path id: positive and bounded by its column, else 400 naming the parameter. */
export function idParam(name: string, max: number = INT4_MAX) {
  return integerText(name, 1, max).openapi({ param: { name, in: 'path' } });
}

/** A paging cursor (`last_batch_id`, `last_job_id`): optional, 0 or more, bounded by its column. */
export function cursorQuery(name: string, max: number = INT4_MAX) {
  return z
    .union([z.literal(''), integerText(name, 0, max)])
    .optional()
    .transform((v) => (v === undefined || v === '' ? null : v))
    .openapi({ type: 'integer', minimum: 0, maximum: max, param: { name, in: 'query' } });
}

/**
 * Text from a URL (a query term, a name in the path). PostgreSQL cannot hold a NUL character,
 * so one is refused here with 400 rather than failing in a query.
 */
export function urlText(name: string) {
  return z.string().refine((v) => !v.includes('\0'), { error: `${name} may not contain NUL characters` });
}

/** A path segment naming something (a user, a pool, a project): any non-empty text. */
export function nameParam(name: string) {
  return urlText(name).min(1).openapi({ param: { name, in: 'path' } });
}

export const BatchIdParam = z.object({ batch_id: idParam('batch_id', BATCH_ID_MAX) });

/** Hail's client addresses a whole batch as its root job group, 0, so this id alone may be 0. */
export const JobGroupParams = BatchIdParam.extend({
  job_group_id: integerText('job_group_id', 0, INT4_MAX).openapi({
    param: { name: 'job_group_id', in: 'path' },
    description: 'a job group id; 0 is the batch itself (the root group)',
  }),
});

export const JobParams = BatchIdParam.extend({ job_id: idParam('job_id') });

export const SECURITY = {
  user: [{ bearer: [] }],
  instance: [{ instanceName: [], instanceToken: [] }],
};

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: "a user's API token",
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'instanceName', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Hail-Instance-Name',
    description: 'the worker instance reporting',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'instanceToken', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Hail-Instance-Token',
    description: "the instance's own token (its activation token for instances/activate)",
  });
}

/** The first zod issue as the envelope: 400, `field` the dotted path, the schema's message. */
export function issueError(error: ZodError, prefix = ''): ApiError {
  const issue = error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const field = `${prefix}${path}`.replace(/^\./, '');
  const message = issue.code === 'custom' || field === '' ? issue.message : `${field}: ${issue.message}`;
  return new ApiError('invalid_request', message, field || undefined);
}

/** Params and query that fail their schema never reach the handler. */
export const defaultHook = (result: { success: boolean; error?: ZodError }) => {
  if (!result.success && result.error) throw issueError(result.error);
};

export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook });
}

/**
 * Mounts a handler under its contract. The contract, body included, goes into the document; the
 * params, query and headers are validated by zod before the handler runs (a failure is the
 * envelope, through `defaultHook`). The body is read by the handler with `readBody` against
 * the same schema, so a body is parsed once and a non-JSON one gets this API's message
 * whatever its content type, as Hail's does.
 */
export function defineRoute(
  app: OpenAPIHono<AppEnv>,
  route: RouteConfig,
  handler: (c: Context<AppEnv>) => Response | Promise<Response>,
): void {
  app.openAPIRegistry.registerPath(route);
  const { body: _published, ...validated } = route.request ?? {};
  app.openapi({ ...route, request: validated, hide: true }, handler as never);
}

/** The validated params of a route (after `defineRoute`'s validator ran). */
export function params<S extends ZodType>(c: Context<AppEnv>, _schema: S): z.output<S> {
  return (c.req.valid as (target: 'param') => unknown)('param') as z.output<S>;
}

export function query<S extends ZodType>(c: Context<AppEnv>, _schema: S): z.output<S> {
  return (c.req.valid as (target: 'query') => unknown)('query') as z.output<S>;
}

/** The JSON body checked against its schema; a failure is a 400 naming the field. */
export async function readBody<S extends ZodType>(
  c: Context<AppEnv>,
  schema: S,
  opts: Parameters<typeof jsonBody>[1] = {},
): Promise<z.output<S>> {
  const raw = await jsonBody(c, opts);
  const r = schema.safeParse(raw);
  if (!r.success) throw issueError(r.error);
  return r.data;
}

/**
 * A body read by its domain parser, which gives Hail's messages and the normalized form; the
 * parsers stay the authority for the rules a schema cannot say. The published schema then
 * validates it too, so the service never accepts a body its contract calls invalid
 * (`test/api/wire-spec.test.ts` holds the schemas to accept whatever the parsers accept).
 */
export async function parsedBody<T>(
  c: Context<AppEnv>,
  schema: ZodType,
  parse: (raw: unknown) => T | Promise<T>,
): Promise<T> {
  const raw = await jsonBody(c);
  const parsed = await parse(raw);
  enforceContract(schema, raw);
  return parsed;
}

/** A 400 naming the field when the published schema refuses a body the domain accepted. */
export function enforceContract(schema: ZodType, accepted: unknown): void {
  const shape = schema.safeParse(accepted);
  if (!shape.success) throw issueError(shape.error);
}
