CREATE TABLE "node_usage" (
	"node_id" text PRIMARY KEY NOT NULL,
	"cpu_percent" double precision,
	"memory_percent" double precision,
	"disk_percent" double precision,
	"network_rx_bytes_per_second" double precision,
	"network_tx_bytes_per_second" double precision,
	"sampled_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "node_usage" ADD CONSTRAINT "node_usage_node_id_nodes_node_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("node_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "node_usage_cpu_idx" ON "node_usage" USING btree (coalesce("cpu_percent", -1),"node_id");--> statement-breakpoint
CREATE INDEX "node_usage_memory_idx" ON "node_usage" USING btree (coalesce("memory_percent", -1),"node_id");--> statement-breakpoint
CREATE INDEX "node_usage_disk_idx" ON "node_usage" USING btree (coalesce("disk_percent", -1),"node_id");--> statement-breakpoint
CREATE INDEX "node_usage_network_idx" ON "node_usage" USING btree (coalesce("network_rx_bytes_per_second" + "network_tx_bytes_per_second", -1),"node_id");--> statement-breakpoint
CREATE INDEX "node_events_node_id_idx" ON "node_events" USING btree ("node_id","id");