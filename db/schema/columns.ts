import { bigint } from 'drizzle-orm/pg-core';

/** Times are milliseconds since the epoch, as Hail stores them. */
export const ms = (name: string) => bigint(name, { mode: 'number' });
