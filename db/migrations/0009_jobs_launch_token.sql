-- A claim reads back the jobs it handed out by their launch token (db/queries/jobs.ts
-- claimReadyJobs); without an index that read scanned the whole batch, ~90 ms at 100,000 jobs.
CREATE INDEX "jobs_launch_token" ON "jobs" USING btree ("batch_id","launch_token") WHERE "jobs"."launch_token" IS NOT NULL;