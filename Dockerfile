# Runbox daemon image. Run with user namespaces allowed for bubblewrap:
#   docker build -t runbox .
#   docker run --rm -p 9000:9000 -e RUNBOX_TOKEN=change-me \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined runbox
FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux tini python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY runtimes ./runtimes
COPY daemon ./daemon
COPY sdk ./sdk
COPY bin ./bin
RUN npm ci --no-audit --no-fund \
 && mkdir -p test bench examples \
 && bash scripts/setup.sh \
 && npm prune --omit=dev
ENV RUNBOX_HOST=0.0.0.0 RUNBOX_PORT=9000
EXPOSE 9000
# tini is pid 1 and reaps what the kernel hands it (the daemon would otherwise start itself under tini anyway).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/runbox.js", "serve"]
