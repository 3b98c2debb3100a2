-- Who pays for a cluster node is fixed when it is made, as an attempt's batch fixes it: a
-- cluster may move to another billing project later, and its past nodes must not move with it.
ALTER TABLE "cluster_nodes" ADD COLUMN "billing_project" text;--> statement-breakpoint
ALTER TABLE "cluster_nodes" ADD COLUMN "user" text;--> statement-breakpoint
UPDATE "cluster_nodes" n SET "billing_project" = c."billing_project", "user" = c."created_by" FROM "clusters" c WHERE c."name" = n."cluster";--> statement-breakpoint
UPDATE "cluster_nodes" SET "billing_project" = '', "user" = '' WHERE "billing_project" IS NULL;--> statement-breakpoint
ALTER TABLE "cluster_nodes" ALTER COLUMN "billing_project" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "cluster_nodes" ALTER COLUMN "user" SET NOT NULL;
