ALTER TABLE "nodes" ADD COLUMN "flapping" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "node_events_time_idx" ON "node_events" USING btree ("time");