-- QueryFleetMetrics over the whole fleet, precomputed per closed bucket by the
-- leader (src/manager/services/fleet-rollup.ts), and the range it covers.
-- Fleet-wide tables, no node_id: exempt from the distribution rule
-- (tests/unit/distribution-rule.test.ts), coordinator-local under Citus.
-- metrics_ts_brin: the rollup's edges and runs read a short window of every
-- node's rows; BRIN (one summary per 128 pages) keeps that from scanning whole
-- daily partitions at almost no cost to ingest, whose rows arrive in time order.
CREATE TABLE "fleet_rollup_buckets" (
	"type" text NOT NULL,
	"name" text NOT NULL,
	"step_seconds" integer NOT NULL,
	"t" double precision NOT NULL,
	"avg" double precision NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"p50" double precision NOT NULL,
	"p90" double precision NOT NULL,
	"p99" double precision NOT NULL,
	"count" double precision NOT NULL,
	CONSTRAINT "fleet_rollup_buckets_pk" PRIMARY KEY("type","name","step_seconds","t")
);
--> statement-breakpoint
CREATE TABLE "fleet_rollup_coverage" (
	"type" text NOT NULL,
	"name" text NOT NULL,
	"step_seconds" integer NOT NULL,
	"from_t" double precision NOT NULL,
	"to_t" double precision NOT NULL,
	"rolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "fleet_rollup_coverage_pk" PRIMARY KEY("type","name","step_seconds")
);
--> statement-breakpoint
CREATE INDEX "metrics_ts_brin" ON "metrics" USING brin ("ts") WITH (autosummarize=true);