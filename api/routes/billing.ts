/**
 * Billing reports (hail-batch-api §1): `billing?start&end` is what each project and user spent
 * in the period, `billing_breakdown` the same per resource. An attempt counts in a period for
 * the part of its billed window that falls inside it. As in Hail, only admins see everyone's
 * spending; other users see their own.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { SECURITY, defineRoute, errors, json, query, router, urlText } from '../contract';
import { periodUsage } from '../../db/queries/billing';
import { loadRateCard } from '../../db/queries/resources';
import { billingPeriod } from '../../domain/billing';
import { spendBreakdown, spendReport, type ReportUsage } from '../../domain/billing-catalogue';
import type { RateCard } from '../../domain/billing-rates';

const Period = z.object({
  start: urlText('start').optional().openapi({ description: 'MM/DD/YYYY (UTC); default the first of this month' }),
  end: urlText('end').optional().openapi({ description: 'MM/DD/YYYY (UTC), included; default open-ended' }),
});

const Spend = z.object({ billing_project: z.string(), user: z.string(), total_spent: z.number() }).openapi('Spend');
const SpendByResource = z
  .object({ billing_project: z.string(), user: z.string(), resource: z.string(), cost: z.number() })
  .openapi('SpendByResource');

async function report(c: Context<AppEnv>): Promise<{ groups: ReportUsage[]; card: RateCard }> {
  const s = c.var.services;
  const now = Date.now();
  const { start, end } = query(c, Period);
  const period = billingPeriod(start ?? null, end ?? null, now);
  const caller = c.var.caller;
  const groups = await periodUsage(s.db, period, now, caller.isAdmin ? null : caller.username);
  return { groups, card: await loadRateCard(s.db) };
}

export function billingRoutes() {
  const r = router();
  const route = (path: string, summary: string, schema: z.ZodType) =>
    createRoute({
      method: 'get',
      path,
      tags: ['billing'],
      summary,
      security: SECURITY.user,
      request: { query: Period },
      responses: { 200: json(schema, 'the report'), ...errors('invalid_request', 'unauthenticated') },
    });
  defineRoute(r, route('/billing', 'Spending per project and user in a period', z.array(Spend)), async (c) => {
    const { groups, card } = await report(c);
    return c.json(spendReport(groups, card));
  });
  defineRoute(r, route('/billing_breakdown', 'Spending per project, user and resource in a period', z.array(SpendByResource)), async (c) => {
    const { groups, card } = await report(c);
    return c.json(spendBreakdown(groups, card));
  });
  return r;
}
