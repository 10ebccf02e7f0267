# syntax=docker/dockerfile:1
#
# Lifeboat's agent and CLI as an image, for amd64 and arm64:
#
#   docker buildx build --platform linux/arm64,linux/amd64 --target lifeboat -t lifeboat .
#
# Add it to your own image (which needs Node.js >= 20.19 for the `lifeboat` command):
#
#   COPY --from=lifeboat /opt/lifeboat /opt/lifeboat
#   ENV PATH=/opt/lifeboat/bin:$PATH
#
# and start your service under the agent: `lifeboat agent --service S --restore --dir /data -- your-server`.
# The `example-kv` target is the example service the CDK example app deploys (bin/example-stack.ts).
#
# Every stage builds on the target platform: zstd-napi is a native module, compiled here for
# the architecture that runs it (buildx emulates the other one).

ARG NODE_IMAGE=public.ecr.aws/docker/library/node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The package as users install it (prepack bundles the CLI into dist/), then installed globally.
RUN npm pack --pack-destination /tmp \
  && npm install -g --prefix /opt/lifeboat --no-audit --no-fund --allow-scripts=zstd-napi /tmp/lifeboat-*.tgz
# The example service, bundled: one file per command, no TypeScript at run time.
RUN npx esbuild examples/kv/server.ts --bundle --platform=node --format=esm --target=node20 --outfile=/opt/kv/kv-server.mjs \
  && npx esbuild examples/kv/kv-ctl.ts --bundle --platform=node --format=esm --target=node20 --outfile=/opt/kv/kv-ctl.mjs \
  && cp examples/kv/entrypoint.sh /opt/kv/entrypoint.sh \
  && printf '#!/bin/sh\nexec node /opt/kv/kv-server.mjs "$@"\n' > /opt/kv/kv-server \
  && printf '#!/bin/sh\nexec node /opt/kv/kv-ctl.mjs "$@"\n' > /opt/kv/kv-ctl \
  && chmod 755 /opt/kv/kv-server /opt/kv/kv-ctl /opt/kv/entrypoint.sh

# What users copy from: the agent and CLI with their production dependencies.
FROM ${NODE_IMAGE} AS lifeboat
COPY --from=build /opt/lifeboat /opt/lifeboat
ENV PATH=/opt/lifeboat/bin:$PATH
ENTRYPOINT ["lifeboat"]

# The example stateful service under the agent (examples/kv).
FROM lifeboat AS example-kv
COPY --from=build /opt/kv /opt/kv
ENV PATH=/opt/kv:$PATH KV_DIR=/data KV_HOST=0.0.0.0 KV_PORT=8080
EXPOSE 8080
ENTRYPOINT ["/opt/kv/entrypoint.sh"]
