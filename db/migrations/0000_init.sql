CREATE TYPE "public"."batch_stored_state" AS ENUM('open', 'running', 'complete');--> statement-breakpoint
CREATE TYPE "public"."instance_state" AS ENUM('pending', 'active', 'inactive', 'deleted');--> statement-breakpoint
CREATE TYPE "public"."job_state" AS ENUM('Pending', 'Ready', 'Creating', 'Running', 'Cancelled', 'Error', 'Failed', 'Success');--> statement-breakpoint
CREATE TABLE "billing_project_users" (
	"billing_project" text NOT NULL,
	"username" text NOT NULL,
	CONSTRAINT "billing_project_users_billing_project_username_pk" PRIMARY KEY("billing_project","username")
);
--> statement-breakpoint
CREATE TABLE "billing_projects" (
	"name" text PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"limit" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"username" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"username" text PRIMARY KEY NOT NULL,
	"is_admin" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "batch_updates" (
	"batch_id" bigint NOT NULL,
	"update_id" integer NOT NULL,
	"token" text NOT NULL,
	"start_job_id" integer NOT NULL,
	"n_jobs" integer NOT NULL,
	"committed" boolean DEFAULT false NOT NULL,
	"time_created" bigint NOT NULL,
	"time_committed" bigint,
	CONSTRAINT "batch_updates_batch_id_update_id_pk" PRIMARY KEY("batch_id","update_id")
);
--> statement-breakpoint
CREATE TABLE "batches" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user" text NOT NULL,
	"billing_project" text NOT NULL,
	"token" text NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"callback" text,
	"cancel_after_n_failures" integer,
	"stored_state" "batch_stored_state" DEFAULT 'open' NOT NULL,
	"cancelled" boolean DEFAULT false NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"n_jobs" integer DEFAULT 0 NOT NULL,
	"n_completed" integer DEFAULT 0 NOT NULL,
	"n_succeeded" integer DEFAULT 0 NOT NULL,
	"n_failed" integer DEFAULT 0 NOT NULL,
	"n_cancelled" integer DEFAULT 0 NOT NULL,
	"n_reserved_jobs" integer DEFAULT 0 NOT NULL,
	"time_created" bigint NOT NULL,
	"time_closed" bigint,
	"time_completed" bigint
);
--> statement-breakpoint
CREATE TABLE "attempts" (
	"batch_id" bigint NOT NULL,
	"job_id" integer NOT NULL,
	"attempt_id" text NOT NULL,
	"instance_name" text NOT NULL,
	"cores_mcpu" integer NOT NULL,
	"time_scheduled" bigint NOT NULL,
	"time_dispatched" bigint,
	"start_time" bigint,
	"end_time" bigint,
	"outcome" text,
	"exit_code" integer,
	"reason" text,
	"status" jsonb,
	CONSTRAINT "attempts_batch_id_job_id_attempt_id_pk" PRIMARY KEY("batch_id","job_id","attempt_id")
);
--> statement-breakpoint
CREATE TABLE "job_parents" (
	"batch_id" bigint NOT NULL,
	"job_id" integer NOT NULL,
	"parent_id" integer NOT NULL,
	CONSTRAINT "job_parents_batch_id_job_id_parent_id_pk" PRIMARY KEY("batch_id","job_id","parent_id")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"batch_id" bigint NOT NULL,
	"job_id" integer NOT NULL,
	"update_id" integer NOT NULL,
	"state" "job_state" NOT NULL,
	"cancelled" boolean DEFAULT false NOT NULL,
	"always_run" boolean NOT NULL,
	"n_pending_parents" integer NOT NULL,
	"n_max_attempts" integer NOT NULL,
	"cores_mcpu" integer NOT NULL,
	"pool" text NOT NULL,
	"name" text,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"exit_code" integer,
	"attempt_id" text,
	"n_attempts" integer DEFAULT 0 NOT NULL,
	"launch_token" text,
	"time_ready" bigint,
	"start_time" bigint,
	"end_time" bigint,
	CONSTRAINT "jobs_batch_id_job_id_pk" PRIMARY KEY("batch_id","job_id")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"name" text PRIMARY KEY NOT NULL,
	"pool" text NOT NULL,
	"state" "instance_state" DEFAULT 'pending' NOT NULL,
	"cores_mcpu" integer NOT NULL,
	"free_cores_mcpu" integer NOT NULL,
	"address" text,
	"activation_token_hash" text NOT NULL,
	"token_hash" text,
	"handle" text,
	"failed_requests" integer DEFAULT 0 NOT NULL,
	"time_created" bigint NOT NULL,
	"time_activated" bigint,
	"last_heartbeat" bigint,
	"time_deleted" bigint
);
--> statement-breakpoint
ALTER TABLE "billing_project_users" ADD CONSTRAINT "billing_project_users_billing_project_billing_projects_name_fk" FOREIGN KEY ("billing_project") REFERENCES "public"."billing_projects"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_username_users_username_fk" FOREIGN KEY ("username") REFERENCES "public"."users"("username") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "batch_updates" ADD CONSTRAINT "batch_updates_batch_id_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "batch_updates_token" ON "batch_updates" USING btree ("batch_id","token");--> statement-breakpoint
CREATE UNIQUE INDEX "batches_user_token" ON "batches" USING btree ("user","token");--> statement-breakpoint
CREATE INDEX "batches_user_id" ON "batches" USING btree ("user","id");--> statement-breakpoint
CREATE INDEX "batches_billing_project_id" ON "batches" USING btree ("billing_project","id");--> statement-breakpoint
CREATE INDEX "attempts_instance_open" ON "attempts" USING btree ("instance_name","end_time");--> statement-breakpoint
CREATE INDEX "job_parents_parent" ON "job_parents" USING btree ("batch_id","parent_id");--> statement-breakpoint
CREATE INDEX "jobs_batch_state" ON "jobs" USING btree ("batch_id","state");--> statement-breakpoint
CREATE INDEX "jobs_ready_pool" ON "jobs" USING btree ("pool","state","batch_id","job_id");--> statement-breakpoint
CREATE INDEX "instances_pool_state" ON "instances" USING btree ("pool","state");