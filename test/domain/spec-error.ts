import { SpecError } from '../../domain/errors';

/** The SpecError `fn` throws; fails the test if it throws nothing or something else. */
export function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}
