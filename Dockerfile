# syntax=docker/dockerfile:1
#
# The cph-route-operator container image.
#
#   docker build -t cph-route-operator:0.1.0 .
#
# Base: Node.js 26, the Active LTS line since 2026-10-28 (24 "Krypton" moved to Maintenance LTS on
# 2026-10-20; 26 is supported until 2029-04-30). The tag pins the major line and the Debian release:
# trixie (Debian 13) is the default Debian of the official Node.js 26 images and outlives the 26 line.
# `-slim` leaves out compilers and docs the operator never needs. The tag follows 26.x patch releases,
# which carry the security fixes; a release build should pin the digest it was built with, e.g.
# --build-arg NODE_IMAGE=node:26-trixie-slim@sha256:<digest>.
# The operator needs Node.js >= 20.19 (package.json "engines"); the development machines and CI run
# its tests on Node.js 20, so nothing in it may depend on a newer runtime.
#
# This Dockerfile cannot be built on the development machines (no Docker engine there):
# test/unit/dockerfile.test.ts checks it statically and rehearses the runtime stage's npm install
# and start without Docker.
ARG NODE_IMAGE=node:26-trixie-slim

# ---- build: all dependencies, TypeScript compiled to dist/ ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's "prepare" runs `npm run build`, which cannot work before the
# sources are copied (and runs below anyway). No dependency needs an install script to build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled operator only ------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="cph-route-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps the route of Huawei Cloud Phone Host phones in line with CloudPhoneRoute resources" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no compiler, test or SDK packages in the image. --ignore-scripts: "prepare" would try to
# run tsc, which is not installed here, and no production dependency needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist ./dist
# 65532 is the conventional "nonroot" UID/GID (distroless); deploy/ runs the pod as the same user
# (runAsNonRoot, runAsUser 65532) with a read-only root filesystem. Numeric, so that the kubelet can
# verify runAsNonRoot without a passwd entry. Nothing under /app is writable by it.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/main.js"]
