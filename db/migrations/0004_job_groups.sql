CREATE TABLE "job_group_self_and_ancestors" (
	"batch_id" bigint NOT NULL,
	"job_group_id" integer NOT NULL,
	"ancestor_id" integer NOT NULL,
	"level" integer NOT NULL,
	CONSTRAINT "job_group_self_and_ancestors_batch_id_job_group_id_ancestor_id_pk" PRIMARY KEY("batch_id","job_group_id","ancestor_id")
);
--> statement-breakpoint
CREATE TABLE "job_groups" (
	"batch_id" bigint NOT NULL,
	"job_group_id" integer NOT NULL,
	"update_id" integer NOT NULL,
	"parent_id" integer NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"callback" text,
	"cancel_after_n_failures" integer,
	"stored_state" "batch_stored_state" DEFAULT 'open' NOT NULL,
	"cancelled" boolean DEFAULT false NOT NULL,
	"n_jobs" integer DEFAULT 0 NOT NULL,
	"n_completed" integer DEFAULT 0 NOT NULL,
	"n_succeeded" integer DEFAULT 0 NOT NULL,
	"n_failed" integer DEFAULT 0 NOT NULL,
	"n_cancelled" integer DEFAULT 0 NOT NULL,
	"time_created" bigint NOT NULL,
	"time_completed" bigint,
	CONSTRAINT "job_groups_batch_id_job_group_id_pk" PRIMARY KEY("batch_id","job_group_id")
);
--> statement-breakpoint
ALTER TABLE "batch_updates" ADD COLUMN "start_job_group_id" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "batch_updates" ADD COLUMN "n_job_groups" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "batches" ADD COLUMN "n_reserved_job_groups" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "job_group_id" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "job_group_ancestors_ancestor" ON "job_group_self_and_ancestors" USING btree ("batch_id","ancestor_id");--> statement-breakpoint
CREATE INDEX "job_groups_parent" ON "job_groups" USING btree ("batch_id","parent_id","job_group_id");--> statement-breakpoint
CREATE INDEX "jobs_batch_group" ON "jobs" USING btree ("batch_id","job_group_id","job_id");