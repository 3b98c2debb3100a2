/**
 * Failures a query module reports to its caller in domain terms; the API maps each kind to
 * its HTTP status in one place (api/errors.ts).
 */
export type DbErrorKind = 'not_found' | 'invalid' | 'conflict' | 'forbidden';

export class DbError extends Error {
  constructor(
    public readonly kind: DbErrorKind,
    message: string,
    public readonly field?: string,
  ) {
    super(message);
  }
}
