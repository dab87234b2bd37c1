# syntax=docker/dockerfile:1
# sigil's image: the built CLI (dist/) on Node 24, production dependencies only, non-root (65532),
# fit for a read-only root filesystem (state goes to the volumes the manifests in deploy/ mount).
#   docker build -t ghcr.io/sigil-project/sigil:0.1.0 .

# Production node_modules and the native addon, compiled here (the final image has no compiler).
FROM node:24-slim AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/binding.gyp native/ecdsa_prehashed.c native/
# --ignore-scripts skips `prepare` (the build needs dev dependencies); the native parts are
# built right after: better-sqlite3 by `npm rebuild`, sigil's addon by its install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3 \
  && npm run install

# dist/: `npm run build` with the dev dependencies, in a stage of its own.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/
COPY src/ src/
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=deps /app/native/build/Release/sigil_native.node native/build/Release/
COPY --from=build /src/dist/ dist/
COPY package.json LICENSE README.md ./
COPY bin/sigil.js bin/
COPY web/ web/
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/sigil.js"]
CMD ["--help"]
