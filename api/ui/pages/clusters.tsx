/**
 * Clusters: the Hail/Spark clusters of the caller's billing projects (every cluster for an
 * admin) with their state, nodes, hourly and accrued cost, the plan last made, and the
 * Jupyter link; the same rows GET /api/v1alpha/clusters reads, without probing Spark.
 */
import type { Hono } from 'hono';
import { Layout, State } from '../layout';
import { requireSession, type UiEnv } from '../session';
import { formatCost } from '../../../domain/ui';
import { hourlyCost, nodesCost } from '../../../domain/clusters/costs';
import { allNodes, latestPlan, listClusters } from '../../../db/queries/clusters';
import { loadRateCard } from '../../../db/queries/resources';
import { projectsOf } from '../../../db/queries/users';

export function clusterPages(r: Hono<UiEnv>): void {
  r.get('/clusters', requireSession, async (c) => {
    const s = c.var.services;
    const caller = c.var.caller;
    const now = Date.now();
    const card = await loadRateCard(s.db);
    const rows = await listClusters(s.db, caller.isAdmin ? null : await projectsOf(s.db, caller.username));
    const clusters = await Promise.all(
      rows.map(async (row) => {
        const nodes = await allNodes(s.db, row.name);
        const live = nodes.filter((n) => n.timeRemoved === null);
        return { row, live, plan: await latestPlan(s.db, row.name), hourly: hourlyCost(live.map((n) => n.shape), card, s.config.region), cost: nodesCost(nodes, card, now) };
      }),
    );
    return c.html(
      <Layout title="Clusters" caller={caller} csrf={c.var.session.csrfToken}>
        <h1>Clusters</h1>
        {clusters.length === 0 ? (
          <p class="muted">No clusters in your billing projects. Operators create them with <code>cluster plan NAME --to create</code> and <code>cluster apply NAME</code> (README).</p>
        ) : null}
        <table id="clusters">
          <thead>
            <tr>
              <th>Name</th><th>Billing project</th><th>State</th><th>Image</th><th>Nodes</th><th class="num">Per hour</th><th class="num">Cost</th><th>Last plan</th><th></th>
            </tr>
          </thead>
          <tbody>
            {clusters.map(({ row, live, plan, hourly, cost }) => (
              <tr id={`cluster-${row.name}`}>
                <td>{row.name}</td>
                <td>{row.billingProject}</td>
                <td><State state={row.state} />{row.error ? <div class="error">{row.error}</div> : null}</td>
                <td>{row.spec?.image ?? ''}</td>
                <td>{live.map((n) => `${n.node} (${n.shape.cores} cores, ${n.shape.memory_gib} GiB)`).join(', ')}</td>
                <td class="num">{formatCost(hourly)}</td>
                <td class="num">{formatCost(cost)}</td>
                <td>{plan ? `#${plan.id} ${plan.action}${plan.timeApplied !== null ? ', applied' : ''}` : ''}</td>
                <td>{live.some((n) => n.role === 'master') ? <a href={`/clusters/${row.name}/jupyter/`}>Jupyter</a> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });
}
