/**
 * Billing reports (hail-batch-api §1): `billing?start&end` is what each project and user spent
 * in the period, `billing_breakdown` the same per resource. An attempt counts in a period for
 * the part of its billed window that falls inside it. As in Hail, only admins see everyone's
 * spending; other users see their own.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { periodUsage } from '../../db/queries/billing';
import { loadRateCard } from '../../db/queries/resources';
import { billingPeriod } from '../../domain/billing';
import { spendBreakdown, spendReport, type ReportUsage } from '../../domain/billing-catalogue';
import type { RateCard } from '../../domain/billing-rates';

async function report(c: Context<AppEnv>): Promise<{ groups: ReportUsage[]; card: RateCard }> {
  const s = c.var.services;
  const now = Date.now();
  const period = billingPeriod(c.req.query('start') ?? null, c.req.query('end') ?? null, now);
  const caller = c.var.caller;
  const groups = await periodUsage(s.db, period, now, caller.isAdmin ? null : caller.username);
  return { groups, card: await loadRateCard(s.db) };
}

export function billingRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/billing', async (c) => {
    const { groups, card } = await report(c);
    return c.json(spendReport(groups, card));
  });
  r.get('/billing_breakdown', async (c) => {
    const { groups, card } = await report(c);
    return c.json(spendBreakdown(groups, card));
  });
  return r;
}
