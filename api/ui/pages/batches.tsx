/** The batches page (newest first, Hail's query box, paged) and its Cancel / Delete buttons. */
import type { Hono } from 'hono';
import { and } from 'drizzle-orm';
import { ActionButton, ErrorBox, Layout, State } from '../layout';
import { QueryBox, queryVersion } from '../query-box';
import { checkedForm, requireSession, type UiEnv } from '../session';
import { batchIdOf, cursorOf } from '../params';
import { ApiError, toApiError } from '../../errors';
import { batchVisibility, visibleBatch } from '../../access';
import { batchCosts, costOf } from '../../costs';
import { batchJson } from '../../serialize';
import { BATCH_ID_MAX } from '../../contract';
import { parseBatchQuery } from '../../../domain/query';
import { formatCost, formatDuration, safeNext } from '../../../domain/ui';
import { listBatchPage, setBatchDeleted } from '../../../db/queries/batches';
import { batchFilter } from '../../../db/queries/filters';
import { cancelBatchJobs } from '../../../db/queries/jobs';

export const PAGE = 50;

type BatchView = ReturnType<typeof batchJson>;

export function batchesPages(r: Hono<UiEnv>): void {
  r.get('/batches', requireSession, async (c) => {
    const s = c.var.services;
    const caller = c.var.caller;
    const version = queryVersion(c.req.query('version'));
    const rawQ = c.req.query('q');
    const q = rawQ ?? (version === 1 ? `user:${caller.username}` : `user = ${caller.username}`);
    let rows: BatchView[] = [];
    let next: number | undefined;
    let error: string | null = null;
    try {
      if (q.length > 10_000) throw new ApiError('invalid_request', 'q: the query is longer than 10000 characters', 'q');
      const clauses = parseBatchQuery(q, version);
      const page = await listBatchPage(s.db, {
        filter: and(batchFilter(clauses), await batchVisibility(s, caller)),
        lastBatchId: cursorOf(c.req.query('last_batch_id'), 'last_batch_id', BATCH_ID_MAX) ?? null,
        limit: PAGE,
      });
      const costs = await batchCosts(s, page.map((b) => b.id));
      rows = page.map((b) => batchJson(b, costOf(costs, b.id)));
      if (page.length === PAGE) next = page[page.length - 1]!.id;
    } catch (e) {
      // A query the grammar refuses is shown above the (empty) table, as Hail's page does.
      const err = toApiError(e);
      if (err.code !== 'invalid_request') throw e;
      error = err.message;
    }
    const here = new URL(c.req.url);
    const self = here.pathname + here.search;
    const nextUrl = next === undefined ? null : `/batches?${new URLSearchParams({ q, version: String(version), last_batch_id: String(next) })}`;
    return c.html(
      <Layout title="Batches" caller={caller} csrf={c.var.session.csrfToken}>
        <h1>Batches</h1>
        <QueryBox action="/batches" q={q} version={version} example={'v2: one clause per line, e.g.\nstate = running\nname =~ foo'} />
        <ErrorBox message={error} />
        <table id="batches">
          <thead>
            <tr>
              <th>ID</th><th>Name</th><th>Billing project</th><th>User</th><th>State</th>
              <th class="num">Jobs</th><th class="num">Pending</th><th class="num">Succeeded</th><th class="num">Failed</th>
              <th class="num">Cancelled</th><th>Created</th><th class="num">Duration</th><th class="num">Cost</th><th></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((b) => (
              <tr data-batch-id={String(b.id)}>
                <td><a href={`/batches/${b.id}`}>{b.id}</a></td>
                <td>{b.attributes.name ?? ''}</td>
                <td>{b.billing_project}</td>
                <td>{b.user}</td>
                <td><State state={b.state} /></td>
                <td class="num">{b.n_jobs}</td>
                <td class="num">{b.n_jobs - b.n_completed}</td>
                <td class="num">{b.n_succeeded}</td>
                <td class="num">{b.n_failed}</td>
                <td class="num">{b.n_cancelled}</td>
                <td>{b.time_created}</td>
                <td class="num">{formatDuration(b.duration_ms ?? (b.complete ? null : Date.now() - Date.parse(b.time_created ?? '')))}</td>
                <td class="num">{formatCost(b.cost)}</td>
                <td>
                  {b.complete ? null : <ActionButton action={`/batches/${b.id}/cancel`} label="Cancel" csrf={c.var.session.csrfToken} next={self} />}{' '}
                  <ActionButton action={`/batches/${b.id}/delete`} label="Delete" csrf={c.var.session.csrfToken} danger next="/batches" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && !error ? <p class="muted">No batches match.</p> : null}
        <div class="pager">{nextUrl ? <a href={nextUrl}>Next page →</a> : null}</div>
      </Layout>,
      error ? 400 : 200,
    );
  });

  // The same steps as PATCH .../cancel and DELETE /batches/{id}: the jobs first, then the workflow.
  r.post('/batches/:batch_id/cancel', requireSession, async (c) => {
    const form = await checkedForm(c);
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, batchIdOf(c.req.param('batch_id')));
    await cancelBatchJobs(s.db, b.id, Date.now());
    await s.workflows.cancelBatch(b.id);
    return c.redirect(form.next ? safeNext(form.next) : `/batches/${b.id}`, 302);
  });

  r.post('/batches/:batch_id/delete', requireSession, async (c) => {
    const form = await checkedForm(c);
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, batchIdOf(c.req.param('batch_id')));
    await cancelBatchJobs(s.db, b.id, Date.now());
    await s.workflows.cancelBatch(b.id);
    await setBatchDeleted(s.db, b.id);
    return c.redirect(form.next ? safeNext(form.next) : '/batches', 302);
  });
}
