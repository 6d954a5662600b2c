-- Late-row markers for the whole-fleet rollup (schema/fleet-rollup.ts): rows
-- stored or deleted for buckets already rolled up, so the leader recomputes
-- them. Fleet-wide and keyless (append-only): exempt from the distribution rule.
CREATE TABLE "fleet_rollup_late" (
	"type" text NOT NULL,
	"from_t" double precision NOT NULL
);
--> statement-breakpoint
ALTER TABLE "fleet_rollup_coverage" ADD COLUMN "dirty_from" double precision;