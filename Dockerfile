# syntax=docker/dockerfile:1
#
# The cph-route-operator container image.
#
#   docker build -t cph-route-operator:0.1.0 .        # published build: the official Node.js LTS image
#   npm run image:build                               # on this project's machines: podman, a local base
#
# NODE_IMAGE is the image every build stage runs on; the runtime stage is assembled from it (below).
#
# Published build: Node.js 26, the Active LTS line since 2026-10-28 (24 "Krypton" moved to Maintenance LTS
# on 2026-10-20; 26 is supported until 2029-04-30). The tag pins the major line and the Debian release:
# trixie (Debian 13) is the default Debian of the official Node.js 26 images and outlives the 26 line.
# `-slim` leaves out compilers and docs the operator never needs. The tag follows 26.x patch releases,
# which carry the security fixes; a release build should pin the digest it was built with, e.g.
# --build-arg NODE_IMAGE=node:26-trixie-slim@sha256:<digest>.
#
# Local build (`npm run image:build`, test/image/): no container registry can be reached from this
# project's machines, so NODE_IMAGE is a base made there, never pulled: Debian's minimal system of the
# machine's release (bookworm, mmdebstrap) with the machine's own Node.js and npm in /usr/local
# (test/image/base.ts). What differs from the published image: the Node.js version (the machine's, 20.x,
# not 26.x) and so the npm that installs the dependencies, and the Debian release whose glibc and libstdc++
# the runtime stage copies (bookworm's, not trixie's). The Dockerfile, the dependencies (package-lock.json),
# the compiled operator and the layout of the runtime stage are the same. The operator needs Node.js >= 20.19
# (package.json "engines"), so nothing in it may depend on a newer runtime.
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
# The simulator (`cph-sim`, a development tool) and the source maps (read only with
# --enable-source-maps) do not run in the image.
RUN npm run build \
 && rm -r dist/simulator \
 && find dist -name '*.map' -delete

# ---- deps: production dependencies only, a layer that changes only with package-lock.json ---------
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# --omit=dev: no compiler, test, SDK or simulator-only packages. --ignore-scripts: "prepare" would
# try to run tsc, which is not installed here, and no production dependency needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- rootfs: the runtime's root filesystem, distroless-style --------------------------------------
# The node binary of NODE_IMAGE, the shared libraries it links (ldd: the dynamic loader, libc, libm,
# libstdc++, libgcc_s, ...), the nonroot user and group, a name-service order for /etc/hosts, and an
# empty /tmp. No shell, no npm, no package manager, no CA bundle (Node.js carries its own root
# certificates; the operator adds one only through --cph-ca-file).
FROM ${NODE_IMAGE} AS rootfs
RUN set -eu; \
    node="$(command -v node)"; \
    mkdir -p /rootfs/usr/local/bin /rootfs/etc /rootfs/tmp; \
    cp "$node" /rootfs/usr/local/bin/node; \
    for lib in $(ldd "$node" | grep -o '/[^ ]*'); do cp --parents -L "$lib" /rootfs; done; \
    chmod 1777 /rootfs/tmp; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /rootfs/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > /rootfs/etc/group; \
    printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf; \
    chroot /rootfs /usr/local/bin/node --version

# ---- runtime: node, production dependencies and the compiled operator only ------------------------
FROM scratch AS runtime
LABEL org.opencontainers.image.title="cph-route-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps the route of Huawei Cloud Phone Host phones in line with CloudPhoneRoute resources" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/bin \
    NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# 65532 is the conventional "nonroot" UID/GID (distroless); deploy/ runs the pod as the same user
# (runAsNonRoot, runAsUser 65532) with a read-only root filesystem and an emptyDir on /tmp. Numeric, so
# that the kubelet can verify runAsNonRoot. Everything above is owned by root: nothing is writable by it.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/main.js"]
