# The sluice image: webhook and controller, one binary (`sluice webhook`, `sluice controller`).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY api api
COPY bin bin
COPY certs certs
COPY controller controller
COPY lib lib
COPY webhook webhook
# tsconfig includes test/ and bench/; the image needs neither, so compile the runtime only.
RUN npx tsc --outDir dist --rootDir . --module NodeNext --moduleResolution NodeNext --target ES2022 --strict --skipLibCheck --esModuleInterop bin/sluice.ts webhook/main.ts controller/main.ts \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
USER 65532:65532
ENTRYPOINT ["node", "dist/bin/sluice.js"]
