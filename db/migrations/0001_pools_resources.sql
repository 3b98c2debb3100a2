CREATE TABLE "pools" (
	"name" text PRIMARY KEY NOT NULL,
	"config" jsonb NOT NULL,
	"time_updated" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"name" text PRIMARY KEY NOT NULL,
	"product" text NOT NULL,
	"version" integer NOT NULL,
	"rate" double precision NOT NULL,
	"time_created" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "attempts" ADD COLUMN "resources" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "region" text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "preemptible" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "machine_type" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "batch_id" bigint;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "job_id" integer;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "time_deactivated" bigint;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "reason" text;