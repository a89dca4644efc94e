# DACC app image, for server mode (clickhouse.url set): installed without the embedded engine
# (chdb is an optional dependency of ~550 MB).
# Build stage: better-sqlite3 compiles here (hence the toolchain) and TypeScript is built to dist/.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
# `prepare` builds dist/ once the dependencies (typescript among them) are in; then the
# development dependencies go.
RUN npm install --omit=optional --no-audit --no-fund && npm prune --omit=dev --omit=optional

# Run stage: Node, the production dependencies, the build, the SQL schema and the explorer's files.
FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json config-template.yml ./
COPY bin ./bin
COPY clickhouse ./clickhouse
COPY src/explorer/public ./src/explorer/public
# Two volumes: /data holds the SQLite store (definitions, orgs, tokens, wildcard sets), which the
# instances of one host may share; /journal holds this container's journal and idempotency index
# (measures acknowledged, maybe not yet in ClickHouse), which is never shared: one per instance.
ENV DACC_HOST=0.0.0.0 DACC_PORT=5000 DACC_DATA_DIR=/data DACC_INGEST_JOURNAL_DIR=/journal
RUN mkdir -p /data /journal && chown node:node /data /journal && chmod 0700 /data /journal
VOLUME ["/data", "/journal"]
EXPOSE 5000
USER node
# Healthy while the instance takes writes: GET /status answers 200 when all is well and when it is
# degraded (ClickHouse failing while the journal absorbs the writes, or segments set aside), 503
# when its journal cannot take writes (or it is draining). Docker restarts nothing on it; it gates
# depends_on at start (docker-compose*.yml). The start period covers migrations and the journal's
# replay. test/deploy/compose.test.ts runs this command.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.DACC_PORT + '/status').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=32", "bin/dacc.js", "serve"]
