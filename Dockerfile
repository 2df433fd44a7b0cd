# The sluice image: one entry point, `sluice webhook|controller|tester [flags]`, and the kubectl
# plugin `kubectl-sluice` on PATH (for a debugging pod or a CI job that already has kubectl).
# Built from tsconfig.build.json (the runtime build the tests also compile and start; see
# test/integration/image-tree.test.ts). Node.js is pinned to one 24.x LTS release in both stages;
# bump both lines together.
FROM node:24.11.1-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY bin bin
COPY certs certs
COPY cli cli
COPY controller controller
COPY dashboard dashboard
COPY lib lib
COPY policy policy
COPY tester tester
COPY webhook webhook
COPY scripts/build-ui.mjs scripts/build-ui.mjs
# The dashboard's page is bundled here (esbuild is a build-time dependency, pruned below).
RUN npx --no-install tsc -p tsconfig.build.json && node scripts/build-ui.mjs && chmod 755 dist/bin/kubectl-sluice.js && npm prune --omit=dev --no-audit --no-fund

FROM node:24.11.1-bookworm-slim
# No package manager at run time: npm, npx and corepack are removed from the runtime stage.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
RUN ln -s /app/dist/bin/kubectl-sluice.js /usr/local/bin/kubectl-sluice
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/bin/sluice.js"]
