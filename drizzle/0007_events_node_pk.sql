-- The distribution rule (tests/unit/distribution-rule.test.ts): node_events' key
-- leads with node_id. drizzle-kit cannot name the old key, so the DROP CONSTRAINT
-- line is written by hand (PostgreSQL's default name for 0000's PRIMARY KEY).
-- The new key replaces node_events_node_id_idx (the same columns); id alone
-- keeps an index for the fleet-wide keyset.
ALTER TABLE "node_events" DROP CONSTRAINT "node_events_pkey";--> statement-breakpoint
DROP INDEX "node_events_node_id_idx";--> statement-breakpoint
ALTER TABLE "node_events" ADD CONSTRAINT "node_events_node_id_pk" PRIMARY KEY("node_id","id");--> statement-breakpoint
CREATE INDEX "node_events_id_idx" ON "node_events" USING btree ("id");
