/**
 * A request the user can fix: the API answers it with 400 and the message as the reason.
 * `field` is the dotted path of the offending value (`bunch[3].resources.memory`, `q`); the
 * message always starts with it so the reason alone tells the user where to look.
 */
export class SpecError extends Error {
  /** The message without the field prefix. */
  readonly detail: string;

  constructor(
    public readonly field: string,
    message: string,
  ) {
    super(field === '' ? message : `${field}: ${message}`);
    this.name = 'SpecError';
    this.detail = message;
  }
}

/**
 * A valid request no worker can run (too many cores, too much memory or storage). The job
 * parser rewords it as Hail's "resource requests for job … are unsatisfiable", which Hail's
 * clients match; `why` is what was too much.
 */
export class UnsatisfiableError extends SpecError {
  constructor(
    field: string,
    public readonly why: string,
  ) {
    super(field, `resource request is unsatisfiable: ${why}`);
    this.name = 'UnsatisfiableError';
  }
}

/** Renders a user's value for an error message: strings in quotes, the rest as JSON, cut short. */
export function showValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (value === undefined) text = 'nothing';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
