# syntax=docker/dockerfile:1
# gw as KrakenD's image is used: mount your folder at /etc/krakend and run
#   docker run -p 8080:8080 -v $PWD:/etc/krakend IMAGE run -c krakend.json
# Relative paths in the configuration (Lua sources, JWK files, Flexible Configuration folders)
# resolve from /etc/krakend, the working directory, as KrakenD resolves them.
# Node 24 on Debian 13: the current uWebSockets.js build loads there (it needs glibc >= 2.38).

# Build stage: the full install (TypeScript and AssemblyScript are built by `npm ci`'s prepare).
FROM node:24-trixie-slim AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json asconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY wasm ./wasm
COPY bin ./bin
RUN npm ci --no-audit --no-fund

# Runtime stage: production dependencies only, non-root.
FROM node:24-trixie-slim
ENV NODE_ENV=production
WORKDIR /opt/gw
COPY package.json package-lock.json scripts/image/prune-uws.mjs ./
# Only the uWebSockets.js binary this Node loads is kept (both builds ship every platform's).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
  && node prune-uws.mjs node_modules && rm prune-uws.mjs
COPY --from=build /build/dist ./dist
COPY --from=build /build/build ./build
COPY bin ./bin
COPY examples/image/krakend.json /etc/krakend/krakend.json
RUN ln -s /opt/gw/bin/gw.js /usr/local/bin/gw
WORKDIR /etc/krakend
USER node
EXPOSE 8080
# `gw health` reads what the running `gw run` (PID 1) reads: its -c and -p, the config's port,
# listen_ip, health_path, disable_health and TLS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["gw", "health"]
ENTRYPOINT ["gw"]
CMD ["run", "-c", "/etc/krakend/krakend.json"]
