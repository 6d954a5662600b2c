import { defineConfig } from "drizzle-kit";

// Migrations are generated from the schema with `npx drizzle-kit generate`.
export default defineConfig({
  dialect: "postgresql",
  schema: [
    "./src/manager/db/schema/nodes.ts",
    "./src/manager/db/schema/metrics.ts",
    "./src/manager/db/schema/leases.ts",
    "./src/manager/db/schema/fleet-rollup.ts",
  ],
  out: "./drizzle",
});
