import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Leader leases: one row per background job that must run on exactly one
 * replica (the liveness sweeper). Held by whoever last renewed it before
 * `expires_at`, by the database's clock, so replicas never compare clocks.
 */
export const leaderLeases = pgTable("leader_leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  acquiredAt: timestamp("acquired_at", { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
});
