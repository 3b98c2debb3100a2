/** Hail's query box: v2 (one clause per line) or v1 (space-separated terms). */
import type { FC } from 'hono/jsx';

export const QueryBox: FC<{ action: string; q: string; version: 1 | 2; hidden?: Record<string, string>; example: string }> = (p) => (
  <form method="get" action={p.action}>
    {Object.entries(p.hidden ?? {}).map(([k, v]) => (
      <input type="hidden" name={k} value={v} />
    ))}
    <textarea name="q" rows={3} placeholder={p.example}>
      {p.q}
    </textarea>
    <br />
    <label>
      <input type="radio" name="version" value="2" checked={p.version === 2} /> v2
    </label>{' '}
    <label>
      <input type="radio" name="version" value="1" checked={p.version === 1} /> v1
    </label>{' '}
    <button type="submit">Search</button>
  </form>
);

export function queryVersion(raw: string | undefined): 1 | 2 {
  return raw === '1' ? 1 : 2;
}
