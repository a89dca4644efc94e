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
ENV DACC_HOST=0.0.0.0 DACC_PORT=5000 DACC_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
VOLUME /data
EXPOSE 5000
USER node
CMD ["node", "--max-semi-space-size=32", "bin/dacc.js", "serve"]
