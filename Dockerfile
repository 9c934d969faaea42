# tfo-mcp in a container: built with the official Bun image, shipped on Debian slim with
# the binary, a POSIX shell and coreutils (execute_command runs /bin/sh -c), as a non-root user.
# Run it as an MCP server over stdio, serving the folder you mount:
#   docker run -i --rm --user "$(id -u):$(id -g)" -v "$PWD:/workspace" tfo-mcp
# (-i keeps stdin open for the client; --user makes files it writes yours; /workspace is the root.)

FROM oven/bun:1.4.4 AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Runtime dependencies only: the image has bun itself, and the dev tools (typescript, the
# Claude Code CLI the tests drive) are not needed to build.
RUN bun install --production --ignore-scripts
COPY build.ts bunfig.toml tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN bun build.ts && ./dist/tfo-mcp --version

FROM debian:12-slim
# ca-certificates: the Claude API and telemetry endpoints are HTTPS. git and ripgrep are what
# a model most often runs in a code workspace; everything else comes with the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git ripgrep \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /bin/sh tfo \
 && mkdir -p /workspace /data \
 && chmod 1777 /data
COPY --from=build /src/dist/tfo-mcp /usr/local/bin/tfo-mcp
WORKDIR /workspace
# Not root: a command the model runs cannot change the image, and /proc/<server>/environ
# (the API key) is not readable by it (root could read any process's environment).
USER tfo
# Conversations live in /data: mount a volume there to keep them (-v tfo-data:/data).
ENV XDG_DATA_HOME=/data HOME=/home/tfo
ENTRYPOINT ["tfo-mcp", "serve"]
CMD ["--root", "/workspace"]
