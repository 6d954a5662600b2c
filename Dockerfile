# syntax=docker/dockerfile:1
# fleet-manager image: multi-stage, production dependencies only, non-root.
# Build: docker build -t fleet-manager .     Run: see docker-compose.yml

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    FLEET_GRPC_ADDR=0.0.0.0:9090 \
    FLEET_HTTP_ADDR=0.0.0.0:8080 \
    FLEET_DATA_DIR=/var/lib/fleet
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --from=build --chown=root:root /src/drizzle ./drizzle
# State folders owned by the runtime user: the manager's data dir, and the
# daemon's work_dir (node_id, spool) when this image runs fleet-daemon. A fresh
# named volume copies this ownership on first mount; without it the mount point
# is root-owned and the daemon fails with EACCES creating its spool.
RUN mkdir -p /var/lib/fleet /var/lib/fleet-daemon \
 && chown node:node /var/lib/fleet /var/lib/fleet-daemon \
 && chmod 0750 /var/lib/fleet-daemon
USER node
EXPOSE 9090 8080
VOLUME ["/var/lib/fleet"]
# Slim images have no curl; Node's fetch checks liveness on the HTTP port.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Migrations are applied by the manager on start (under an advisory lock).
ENTRYPOINT ["node", "dist/src/manager/main.js"]
CMD ["serve"]
