CREATE TABLE "node_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"node_id" text NOT NULL,
	"kind" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"time" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"node_id" text PRIMARY KEY NOT NULL,
	"hostname" text DEFAULT '' NOT NULL,
	"ip" text DEFAULT '' NOT NULL,
	"os" text DEFAULT '' NOT NULL,
	"arch" text DEFAULT '' NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"daemon_version" text DEFAULT '' NOT NULL,
	"agent_version" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'online' NOT NULL,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"clock_skew_seconds" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"node_id" text NOT NULL,
	"type" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"values" jsonb NOT NULL,
	CONSTRAINT "metrics_series_ts_pk" PRIMARY KEY("node_id","type","labels","ts")
) PARTITION BY RANGE ("ts");
--> statement-breakpoint
-- Partitioned by day (drizzle-kit does not model partitioning, so this clause and
-- the default partition are added by hand). Daily partitions are created ahead
-- by the manager; the default partition only catches rows outside them.
CREATE TABLE "metrics_default" PARTITION OF "metrics" DEFAULT;
--> statement-breakpoint
CREATE INDEX "node_events_node_time_idx" ON "node_events" USING btree ("node_id","time");--> statement-breakpoint
CREATE INDEX "nodes_status_idx" ON "nodes" USING btree ("status","node_id");--> statement-breakpoint
CREATE INDEX "nodes_labels_idx" ON "nodes" USING gin ("labels");