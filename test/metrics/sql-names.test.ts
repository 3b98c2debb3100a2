import { describe, expect, it } from 'vitest';
import { queryNameFromFrames } from '../../metrics/sql';

const at = (functionName: string | null, fileName: string | null) => ({ functionName, fileName });

describe('SQL metric names from call sites', () => {
  it('names the innermost named function in db/queries/', () => {
    const frames = [
      at('get', '/srv/node_modules/drizzle-orm/pg-core/db.js'),
      at('poolDemand', '/srv/app/db/queries/scheduling.ts'),
      at('schedulePass', '/srv/app/activities/scheduler.ts'),
    ];
    expect(queryNameFromFrames(frames)).toBe('scheduling.poolDemand');
  });
  it('drops a receiver prefix and falls back to the module for anonymous callbacks', () => {
    expect(queryNameFromFrames([at('Object.userForToken', '/a/db/queries/users.js')])).toBe('users.userForToken');
    expect(queryNameFromFrames([at(null, '/a/db/queries/attempts.ts'), at('run', '/a/activities/x.ts')])).toBe('attempts.anonymous');
  });
  it('says unnamed outside the query modules', () => {
    expect(queryNameFromFrames([at('main', '/a/cli/main.ts'), at(null, null)])).toBe('unnamed');
  });
});
