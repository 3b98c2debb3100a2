/**
 * Temporal task latency as the driver sees it: every activity execution this worker runs,
 * local activities included (they run in this process, inside a workflow task), timed into
 * the driver's registry. Server-side latencies (schedule-to-start) are Temporal's own metrics.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { DriverMetrics } from './registry';

export function activityMetricsInterceptor(metrics: DriverMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const end = metrics.activity.startTimer({ activity: ctx.info.activityType, local: String(ctx.info.isLocal) });
        try {
          const out = await next(input);
          end({ outcome: 'completed' });
          return out;
        } catch (e) {
          end({ outcome: 'failed' });
          throw e;
        }
      },
    },
  });
}
