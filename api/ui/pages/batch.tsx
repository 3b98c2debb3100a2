/**
 * One batch: attributes, state, counts, cost and its breakdown, timings; its job groups as a
 * tree (the path from the batch down to the group in view, then that group's children, paged,
 * each with its own counts and how many groups sit below it); its jobs, filtered with the
 * query language and paged, never all at once.
 */
import type { Hono } from 'hono';
import { and } from 'drizzle-orm';
import { ActionButton, ErrorBox, Kv, Layout, State } from '../layout';
import { QueryBox, queryVersion } from '../query-box';
import { requireSession, type UiEnv } from '../session';
import { batchIdOf, cursorOf } from '../params';
import { ApiError, toApiError } from '../../errors';
import { visibleBatch } from '../../access';
import { batchCosts, costOf, jobCosts, jobGroupCosts } from '../../costs';
import { batchJson, jobEntryJson, jobGroupJson } from '../../serialize';
import { parseJobQuery } from '../../../domain/query';
import { formatCost, formatDuration } from '../../../domain/ui';
import { ROOT_JOB_GROUP_ID } from '../../../domain/job-group-tree';
import { listJobPage } from '../../../db/queries/jobs';
import { jobFilter } from '../../../db/queries/filters';
import { childGroupCounts, getJobGroup, jobGroupAncestors, jobsOfGroup, listChildJobGroups, type JobGroupRow } from '../../../db/queries/job-groups';
import { PAGE } from './batches';

type Breakdown = { resource: string; cost: number }[];

const CostTable = ({ breakdown }: { breakdown: Breakdown }) =>
  breakdown.length === 0 ? (
    <p class="muted">Nothing billed yet.</p>
  ) : (
    <table style="max-width:520px">
      <thead><tr><th>Resource</th><th class="num">Cost</th></tr></thead>
      <tbody>
        {breakdown.map((r) => (
          <tr><td>{r.resource}</td><td class="num">{formatCost(r.cost)}</td></tr>
        ))}
      </tbody>
    </table>
  );

export function batchPages(r: Hono<UiEnv>): void {
  r.get('/batches/:batch_id', requireSession, async (c) => {
    const s = c.var.services;
    const csrf = c.var.session.csrfToken;
    const batch = await visibleBatch(s, c.var.caller, batchIdOf(c.req.param('batch_id')));
    const b = batchJson(batch, costOf(await batchCosts(s, [batch.id]), batch.id));

    const groupId = cursorOf(c.req.query('job_group'), 'job_group') ?? ROOT_JOB_GROUP_ID;
    const group = groupId === ROOT_JOB_GROUP_ID ? null : await getJobGroup(s.db, batch.id, groupId);
    if (groupId !== ROOT_JOB_GROUP_ID && (!group || group.storedState === 'open')) {
      throw new ApiError('not_found', `job group ${groupId} of batch ${batch.id} not found`, 'job_group');
    }
    const pathRows = group ? [...(await jobGroupAncestors(s.db, batch.id, groupId)), group] : [];
    const groupsAfter = cursorOf(c.req.query('groups_after'), 'groups_after') ?? null;
    const children = await listChildJobGroups(s.db, { batchId: batch.id, parentId: groupId, lastJobGroupId: groupsAfter, limit: PAGE });
    // Every group on the page priced in one statement.
    const groupCosts = await jobGroupCosts(s, batch.id, [...pathRows, ...children].map((g) => g.jobGroupId));
    const viewOf = (g: JobGroupRow) => jobGroupJson(g, costOf(groupCosts, g.jobGroupId));
    const path = pathRows.map(viewOf);
    const childViews = children.map(viewOf);
    const grandchildren = await childGroupCounts(s.db, batch.id, children.map((g) => g.jobGroupId));

    const version = queryVersion(c.req.query('version'));
    const q = c.req.query('q') ?? '';
    let jobs: ReturnType<typeof jobEntryJson>[] = [];
    let nextJob: number | undefined;
    let error: string | null = null;
    try {
      if (q.length > 10_000) throw new ApiError('invalid_request', 'q: the query is longer than 10000 characters', 'q');
      const rows = await listJobPage(s.db, {
        batchId: batch.id,
        filter: and(jobFilter(parseJobQuery(q, version)), groupId === ROOT_JOB_GROUP_ID ? undefined : jobsOfGroup(batch.id, groupId, true)),
        lastJobId: cursorOf(c.req.query('last_job_id'), 'last_job_id') ?? null,
        limit: PAGE,
      });
      const costs = await jobCosts(s, batch.id, rows.map((j) => j.jobId));
      jobs = rows.map((j) => jobEntryJson(j, batch, costOf(costs, j.jobId)));
      if (rows.length === PAGE) nextJob = rows[rows.length - 1]!.jobId;
    } catch (e) {
      const err = toApiError(e);
      if (err.code !== 'invalid_request') throw e;
      error = err.message;
    }
    const keep: Record<string, string> = { version: String(version), ...(groupId ? { job_group: String(groupId) } : {}) };
    const nextUrl = nextJob === undefined ? null : `/batches/${batch.id}?${new URLSearchParams({ ...keep, q, last_job_id: String(nextJob) })}`;
    const name = b.attributes.name;
    return c.html(
      <Layout title={`Batch ${b.id}`} caller={c.var.caller} csrf={csrf}>
        <h1>
          Batch {b.id}
          {name ? ` · ${name}` : ''} <State state={b.state} />{' '}
          {b.complete ? null : <ActionButton action={`/batches/${b.id}/cancel`} label="Cancel" csrf={csrf} />}
        </h1>
        <div class="grid2">
          <div>
            <Kv
              rows={[
                ['User', b.user],
                ['Billing project', b.billing_project],
                ['Jobs', String(b.n_jobs)],
                ['Pending', String(b.n_jobs - b.n_completed)],
                ['Succeeded', String(b.n_succeeded)],
                ['Failed', String(b.n_failed)],
                ['Cancelled', String(b.n_cancelled)],
                ['Created', b.time_created ?? ''],
                ['Closed', b.time_closed ?? ''],
                ['Completed', b.time_completed ?? ''],
                ['Duration', formatDuration(b.duration_ms)],
                ['Cost', <span id="batch-cost">{formatCost(b.cost)}</span>],
                ['Cancel after failures', batch.cancelAfterNFailures === null ? '' : String(batch.cancelAfterNFailures)],
              ]}
            />
          </div>
          <div>
            <h2 style="margin-top:0">Attributes</h2>
            <Kv rows={Object.entries(b.attributes).map(([k, v]) => [k, v])} />
            <h2>Cost breakdown</h2>
            <CostTable breakdown={b.cost_breakdown} />
          </div>
        </div>

        <h2>Job groups</h2>
        <GroupTree
          batchId={b.id}
          root={{ job_group_id: ROOT_JOB_GROUP_ID, state: b.state, n_jobs: b.n_jobs, n_succeeded: b.n_succeeded, n_failed: b.n_failed, n_cancelled: b.n_cancelled, cost: b.cost }}
          path={path}
          groups={childViews}
          grandchildren={grandchildren}
          more={children.length === PAGE ? `/batches/${b.id}?${new URLSearchParams({ ...(groupId ? { job_group: String(groupId) } : {}), groups_after: String(children[children.length - 1]!.jobGroupId) })}` : null}
        />

        <h2>Jobs{groupId ? ` of group ${groupId} and below` : ''}</h2>
        <QueryBox
          action={`/batches/${b.id}`}
          q={q}
          version={version}
          hidden={groupId ? { job_group: String(groupId) } : {}}
          example={'e.g.\nstate = failed\nexit_code != 0\nname =~ step'}
        />
        <ErrorBox message={error} />
        <table id="jobs">
          <thead>
            <tr><th>ID</th><th>Name</th><th>Group</th><th>State</th><th class="num">Exit code</th><th class="num">Duration</th><th class="num">Cost</th></tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr data-job-id={String(j.job_id)}>
                <td><a href={`/batches/${b.id}/jobs/${j.job_id}`}>{j.job_id}</a></td>
                <td>{j.name ?? ''}</td>
                <td>{j.job_group_id}</td>
                <td><State state={j.display_state} /></td>
                <td class="num">{j.exit_code ?? ''}</td>
                <td class="num">{formatDuration(j.duration)}</td>
                <td class="num">{formatCost(j.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {jobs.length === 0 && !error ? <p class="muted">No jobs match.</p> : null}
        <div class="pager">{nextUrl ? <a href={nextUrl}>Next page →</a> : null}</div>
      </Layout>,
      error ? 400 : 200,
    );
  });
}

type GroupView = Pick<ReturnType<typeof jobGroupJson>, 'job_group_id' | 'state' | 'n_jobs' | 'n_succeeded' | 'n_failed' | 'n_cancelled' | 'cost'> & {
  attributes?: Record<string, string> | null;
};

const GroupLine = ({ batchId, g, current, below }: { batchId: number; g: GroupView; current: boolean; below?: number }) => {
  const label = g.job_group_id === ROOT_JOB_GROUP_ID ? 'batch (group 0)' : `group ${g.job_group_id}`;
  const href = g.job_group_id === ROOT_JOB_GROUP_ID ? `/batches/${batchId}` : `/batches/${batchId}?job_group=${g.job_group_id}`;
  return (
    <span data-job-group={String(g.job_group_id)}>
      {current ? <strong>{label}</strong> : <a href={href}>{label}</a>} {g.job_group_id === ROOT_JOB_GROUP_ID ? '' : (g.attributes?.name ?? '')} <State state={g.state} />{' '}
      {g.n_jobs} jobs, {g.n_succeeded} succeeded, {g.n_failed} failed, {g.n_cancelled} cancelled · {formatCost(g.cost)}
      {below ? <span class="muted"> · {below} {below === 1 ? 'group' : 'groups'} below</span> : null}
    </span>
  );
};

/**
 * The batch, each ancestor of the group in view, the group itself, then its children: a
 * nested list however deep the tree, never more than a page of groups at once.
 */
const GroupTree = (p: { batchId: number; root: GroupView; path: GroupView[]; groups: GroupView[]; grandchildren: Map<number, number>; more: string | null }) => {
  const chain = [p.root, ...p.path];
  const leaf = (
    <>
      {p.groups.length === 0 ? null : (
        <ul class="tree">
          {p.groups.map((g) => (
            <li><GroupLine batchId={p.batchId} g={g} current={false} below={p.grandchildren.get(g.job_group_id)} /></li>
          ))}
        </ul>
      )}
      {p.more ? <div class="pager"><a href={p.more}>More groups →</a></div> : null}
    </>
  );
  const level = (i: number): unknown => (
    <ul class="tree">
      <li>
        <GroupLine batchId={p.batchId} g={chain[i]!} current={i === chain.length - 1} />
        {i === chain.length - 1 ? leaf : level(i + 1)}
      </li>
    </ul>
  );
  return <div id="job-groups">{level(0)}</div>;
};
