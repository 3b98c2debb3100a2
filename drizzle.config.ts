import { defineConfig } from 'drizzle-kit';

// Only generation uses this; migrations are applied at start-up by db/migrate.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './db/migrations',
});
