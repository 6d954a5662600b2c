ALTER TABLE "nodes" ADD COLUMN "requested_interval_seconds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "observed_interval_seconds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "ephemeral" boolean DEFAULT false NOT NULL;