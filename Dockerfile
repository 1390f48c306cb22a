# One image for all three Waitpoints apps. It starts the gateway by default; run another app
# by overriding the command:
#   node dist/apps/gateway/src/main.js
#   node dist/apps/token-service/src/main.js
#   node dist/apps/scheduler/src/main.js
# (docker-compose.yml does exactly this.)

# ---- build: install everything, compile TypeScript, then drop the dev dependencies ----
FROM node:20-bookworm-slim AS build
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
FROM node:20-bookworm-slim
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
