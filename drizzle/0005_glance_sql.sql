-- Hand-written (drizzle-kit does not model triggers): every node has its
-- node_usage row from the moment it exists, however it was inserted, so
-- ListNodes can order by usage with an inner join on node_usage's indexes and
-- ingest only ever updates (never inserts) usage rows.
CREATE FUNCTION node_usage_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO node_usage (node_id) VALUES (NEW.node_id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER nodes_usage_row AFTER INSERT ON nodes
  FOR EACH ROW EXECUTE FUNCTION node_usage_add();
--> statement-breakpoint
INSERT INTO node_usage (node_id) SELECT node_id FROM nodes ON CONFLICT DO NOTHING;
