# DACC app image, for server mode (clickhouse.url set): installed without the embedded engine
# (chdb is an optional dependency of ~550 MB). better-sqlite3 compiles here, hence the toolchain.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --omit=optional --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY clickhouse ./clickhouse
COPY config-template.yml ./
ENV DACC_HOST=0.0.0.0 DACC_PORT=5000 DACC_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 5000
USER node
CMD ["node", "bin/dacc.js", "serve"]
