CREATE TABLE "callbacks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"batch_id" bigint NOT NULL,
	"job_group_id" integer NOT NULL,
	"completion" integer NOT NULL,
	"url" text NOT NULL,
	"body" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"attempt_token" text,
	"lease_until" bigint,
	"last_status" integer,
	"last_error" text,
	"time_created" bigint NOT NULL,
	"time_delivered" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "callbacks_completion" ON "callbacks" USING btree ("batch_id","job_group_id","completion");--> statement-breakpoint
CREATE INDEX "callbacks_due" ON "callbacks" USING btree ("state","next_attempt_at");