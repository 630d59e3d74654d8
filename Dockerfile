# syntax=docker/dockerfile:1
# Build stage: full install (TypeScript + AssemblyScript build run by `npm ci`'s prepare).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json asconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY wasm ./wasm
COPY bin ./bin
RUN npm ci --no-audit --no-fund

# Runtime stage: production dependencies only, non-root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/build ./build
COPY bin ./bin
COPY examples ./examples
COPY examples/krakend.json /etc/gw/krakend.json
RUN ln -s /app/bin/gw.js /usr/local/bin/gw
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/__health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["gw"]
CMD ["run", "-c", "/etc/gw/krakend.json"]
