# tfo-mcp in a container: built with the official Bun image, shipped on a small base
# with only the binary. Run it as an MCP server over stdio:
#   docker run -i --rm -v "$PWD:/workspace" tfo-mcp
# (-i keeps stdin open for the client; the workspace root is /workspace.)

FROM oven/bun:1.4.4 AS build
WORKDIR /src
COPY package.json package-lock.json ./
# bun install reads the npm lockfile; the image already has bun, so install scripts are skipped.
RUN bun install --ignore-scripts
COPY . .
RUN bun build.ts && ./dist/tfo-mcp --version

# glibc base without a shell or package manager; the binary needs libc and libstdc++ only.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/tfo-mcp /usr/local/bin/tfo-mcp
WORKDIR /workspace
# nonroot (uid 65532): commands the model runs cannot touch the image as root.
USER nonroot
ENV XDG_DATA_HOME=/home/nonroot/.local/share
ENTRYPOINT ["tfo-mcp", "serve"]
CMD ["--root", "/workspace"]
