CREATE TABLE "cluster_image_shares" (
	"image" text NOT NULL,
	"billing_project" text NOT NULL,
	"time_shared" bigint NOT NULL,
	"time_accepted" bigint,
	CONSTRAINT "cluster_image_shares_image_billing_project_pk" PRIMARY KEY("image","billing_project")
);
--> statement-breakpoint
CREATE TABLE "cluster_images" (
	"name" text PRIMARY KEY NOT NULL,
	"billing_project" text NOT NULL,
	"ref" text NOT NULL,
	"state" text NOT NULL,
	"error" text,
	"build_ms" bigint,
	"created_by" text NOT NULL,
	"time_created" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cluster_nodes" (
	"cluster" text NOT NULL,
	"node" text NOT NULL,
	"generation" integer NOT NULL,
	"role" text NOT NULL,
	"shape" jsonb NOT NULL,
	"resources" jsonb NOT NULL,
	"handle" text,
	"jupyter_url" text,
	"time_started" bigint NOT NULL,
	"time_removed" bigint
);
--> statement-breakpoint
CREATE TABLE "cluster_plans" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"cluster" text NOT NULL,
	"action" text NOT NULL,
	"base_generation" integer NOT NULL,
	"spec" jsonb,
	"diff" jsonb NOT NULL,
	"hourly_cost" jsonb NOT NULL,
	"state" text NOT NULL,
	"created_by" text NOT NULL,
	"time_created" bigint NOT NULL,
	"time_applied" bigint
);
--> statement-breakpoint
CREATE TABLE "clusters" (
	"name" text PRIMARY KEY NOT NULL,
	"billing_project" text NOT NULL,
	"created_by" text NOT NULL,
	"state" text NOT NULL,
	"generation" integer DEFAULT 0 NOT NULL,
	"spec" jsonb,
	"jupyter_token" text NOT NULL,
	"applying_plan" bigint,
	"error" text,
	"time_created" bigint NOT NULL,
	"time_updated" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "cluster_nodes_key" ON "cluster_nodes" USING btree ("cluster","node","generation");--> statement-breakpoint
CREATE INDEX "cluster_nodes_live" ON "cluster_nodes" USING btree ("cluster","time_removed");--> statement-breakpoint
CREATE INDEX "cluster_plans_cluster" ON "cluster_plans" USING btree ("cluster","id");