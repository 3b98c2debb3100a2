/** The page frame and small pieces every page shares: navigation, state badges, forms. */
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import type { Caller } from '../context';

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;background:#f6f7f9}
header{background:#1d2a44;color:#fff;display:flex;align-items:center;gap:18px;padding:8px 20px}
header a{color:#dbe4ff;text-decoration:none}header a:hover{color:#fff}header .brand{font-weight:600;color:#fff;margin-right:10px}
header .who{margin-left:auto;display:flex;gap:10px;align-items:center}
main{padding:16px 20px;max-width:1300px}h1{font-size:20px;margin:6px 0 12px}h2{font-size:16px;margin:18px 0 8px}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:10px}th,td{padding:5px 8px;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:13px}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#2653c9}.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;background:#e3e6eb}
.s-success,.s-Success{background:#d3f5dc;color:#145c2a}.s-failure,.s-Failed,.s-Error{background:#fbd9d9;color:#8a1c1c}
.s-running,.s-Running,.s-Creating{background:#d9e7ff;color:#1d3f8a}.s-cancelled,.s-Cancelled,.s-Cancelling{background:#f2e3c6;color:#6b4a0d}
.s-active{background:#d3f5dc}.s-inactive,.s-deleted{background:#e3e6eb;color:#666}.s-pending,.s-Pending,.s-Ready,.s-open{background:#fff3c4}
.error{background:#fde8e8;border:1px solid #f0a3a3;color:#7a1313;padding:8px 12px;border-radius:4px;margin:10px 0;white-space:pre-wrap}
.notice{background:#e6f4ea;border:1px solid #a6d8b4;padding:8px 12px;border-radius:4px;margin:10px 0}
form.inline{display:inline}button{font:inherit;padding:3px 10px;border:1px solid #9aa5b8;background:#fff;border-radius:4px;cursor:pointer}
button.danger{border-color:#d08080;color:#8a1c1c}textarea,input[type=text],input[type=password],input[type=number]{font:13px ui-monospace,Menlo,monospace;padding:4px 6px;border:1px solid #b9c1cf;border-radius:3px}
textarea{width:100%;max-width:700px}dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;background:#fff;padding:10px 14px;margin:0 0 10px}
dl.kv dt{color:#5a6477}dl.kv dd{margin:0}pre.log{background:#10141c;color:#e6e6e6;padding:10px;max-height:420px;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
.pager{margin:8px 0}.muted{color:#6b7487}.tree{list-style:none;padding-left:18px;margin:4px 0}.plot{background:#fff;margin:6px 0 14px;padding:6px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px}
`;

export type PageProps = PropsWithChildren<{ title: string; caller?: Caller; csrf?: string; scripts?: string[] }>;

export const Layout: FC<PageProps> = ({ title, caller, csrf, scripts, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title} · Hail Batch</title>
      <style>{CSS}</style>
      {scripts?.includes('uplot') ? <link rel="stylesheet" href="/ui-assets/uPlot.min.css" /> : null}
    </head>
    <body>
      <header>
        <a class="brand" href="/batches">Hail Batch</a>
        {caller ? (
          <>
            <a href="/batches">Batches</a>
            <a href="/billing">Billing</a>
            <a href="/clusters">Clusters</a>
            {caller.isAdmin ? (
              <>
                <a href="/admin/pools">Pools</a>
                <a href="/admin/instances">Instances</a>
                <a href="/admin/users">Users</a>
              </>
            ) : null}
            <span class="who">
              <span>{caller.username}</span>
              <form class="inline" method="post" action="/logout">
                <CsrfField token={csrf ?? ''} />
                <button type="submit">Sign out</button>
              </form>
            </span>
          </>
        ) : null}
      </header>
      <main>{children}</main>
      {scripts?.includes('uplot') ? <script src="/ui-assets/uPlot.iife.min.js"></script> : null}
      {scripts?.length ? <script src="/ui-assets/ui.js"></script> : null}
    </body>
  </html>
);

export const CsrfField: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

export const State: FC<{ state: string }> = ({ state }) => <span class={`badge s-${state}`}>{state}</span>;

/** A POST button (cancel, delete, ...): works without JavaScript, carries the CSRF token. */
export const ActionButton: FC<{ action: string; label: string; csrf: string; danger?: boolean; next?: string }> = (p) => (
  <form class="inline" method="post" action={p.action}>
    <CsrfField token={p.csrf} />
    {p.next ? <input type="hidden" name="next" value={p.next} /> : null}
    <button type="submit" class={p.danger ? 'danger' : undefined}>
      {p.label}
    </button>
  </form>
);

export const ErrorBox: FC<{ message?: string | null }> = ({ message }) => (message ? <div class="error" role="alert">{message}</div> : null);

export const Kv: FC<{ rows: [string, Child][] }> = ({ rows }) => (
  <dl class="kv">
    {rows.map(([k, v]) => (
      <>
        <dt>{k}</dt>
        <dd>{v}</dd>
      </>
    ))}
  </dl>
);
