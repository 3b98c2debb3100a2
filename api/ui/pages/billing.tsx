/**
 * Billing: spending by billing project and user over a date range (the same report as
 * GET /api/v1alpha/billing), a plot of daily spending, and the caller's billing projects with
 * their limits and accrued cost.
 */
import type { Hono } from 'hono';
import { ErrorBox, Layout } from '../layout';
import { requireSession, type UiEnv } from '../session';
import { toApiError } from '../../errors';
import { billingPeriod, type BillingPeriod } from '../../../domain/billing';
import { spendReport, type SpendRow } from '../../../domain/billing-catalogue';
import { formatCost } from '../../../domain/ui';
import { accruedCosts, periodUsage } from '../../../db/queries/billing';
import { loadRateCard } from '../../../db/queries/resources';
import { listProjects, type ProjectListing } from '../../../db/queries/billing-projects';

const DAY_MS = 86_400_000;
/** The plot covers at most this many days from the start; the table covers the whole range. */
const MAX_PLOT_DAYS = 62;

/** JSON inside a <script> element: `<` escaped so no value can close the element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export function billingPages(r: Hono<UiEnv>): void {
  r.get('/billing', requireSession, async (c) => {
    const s = c.var.services;
    const caller = c.var.caller;
    const now = Date.now();
    const start = c.req.query('start') || undefined;
    const end = c.req.query('end') || undefined;
    const onlyUser = caller.isAdmin ? null : caller.username;
    let rows: SpendRow[] = [];
    let series: [number[], number[]] = [[], []];
    let error: string | null = null;
    let period: BillingPeriod | null = null;
    try {
      period = billingPeriod(start ?? null, end ?? null, now);
    } catch (e) {
      const err = toApiError(e);
      if (err.code !== 'invalid_request') throw e;
      error = err.message;
    }
    if (period) {
      const card = await loadRateCard(s.db);
      rows = spendReport(await periodUsage(s.db, period, now, onlyUser), card);
      const last = Math.min(period.endMsExclusive ?? now + 1, now + 1, period.startMs + MAX_PLOT_DAYS * DAY_MS);
      for (let day = period.startMs; day < last; day += DAY_MS) {
        const spent = spendReport(await periodUsage(s.db, { startMs: day, endMsExclusive: day + DAY_MS }, now, onlyUser), card);
        series[0].push(day / 1000);
        series[1].push(spent.reduce((sum, x) => sum + x.total_spent, 0));
      }
    }
    const projects: ProjectListing[] = await listProjects(s.db, caller.isAdmin ? {} : { member: caller.username });
    const accrued = await accruedCosts(s.db, projects.map((p) => p.name), now);
    const total = rows.reduce((sum, x) => sum + x.total_spent, 0);
    return c.html(
      <Layout title="Billing" caller={caller} csrf={c.var.session.csrfToken} scripts={['uplot']}>
        <h1>Billing</h1>
        <form method="get" action="/billing">
          <label>Start <input type="text" name="start" value={start ?? ''} placeholder="MM/DD/YYYY" size={11} /></label>{' '}
          <label>End <input type="text" name="end" value={end ?? ''} placeholder="MM/DD/YYYY" size={11} /></label>{' '}
          <button type="submit">Show</button> <span class="muted">UTC; start defaults to the first of this month, end to today.</span>
        </form>
        <ErrorBox message={error} />
        <h2>Spending{caller.isAdmin ? '' : ' (your batches)'}</h2>
        <table id="spending" style="max-width:720px">
          <thead><tr><th>Billing project</th><th>User</th><th class="num">Spent</th></tr></thead>
          <tbody>
            {rows.map((x) => (
              <tr><td>{x.billing_project}</td><td>{x.user}</td><td class="num">{formatCost(x.total_spent)}</td></tr>
            ))}
            <tr><th colspan={2}>Total</th><th class="num">{formatCost(total)}</th></tr>
          </tbody>
        </table>
        <div id="billing-plot" class="plot"></div>
        <script type="application/json" id="billing-series" dangerouslySetInnerHTML={{ __html: scriptJson(series) }}></script>
        <h2>Billing projects</h2>
        <table id="projects" style="max-width:720px">
          <thead><tr><th>Name</th><th>Status</th><th class="num">Limit</th><th class="num">Accrued</th><th>Members</th></tr></thead>
          <tbody>
            {projects.map((p) => (
              <tr>
                <td>{p.name}</td><td>{p.status}</td><td class="num">{p.limit === null ? 'none' : formatCost(p.limit)}</td>
                <td class="num">{formatCost(accrued.get(p.name) ?? 0)}</td><td>{p.users.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
      error ? 400 : 200,
    );
  });
}
