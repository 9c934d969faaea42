// The release matrix as data; every artifact name is derived from it.
export type Target = { target: Bun.Build.CompileTarget; os: "linux" | "darwin" | "windows"; arch: "x64" | "arm64"; libc?: "musl" };

export const TARGETS: readonly Target[] = [
  { target: "bun-linux-x64", os: "linux", arch: "x64" },
  { target: "bun-linux-arm64", os: "linux", arch: "arm64" },
  { target: "bun-linux-x64-musl", os: "linux", arch: "x64", libc: "musl" },
  { target: "bun-darwin-x64", os: "darwin", arch: "x64" },
  { target: "bun-darwin-arm64", os: "darwin", arch: "arm64" },
  { target: "bun-windows-x64", os: "windows", arch: "x64" },
];

/** "linux-x64", "linux-x64-musl", "darwin-arm64", "windows-x64" */
export const platformName = (t: Target) => `${t.os}-${t.arch}${t.libc ? `-${t.libc}` : ""}`;
export const exeName = (t: Target) => (t.os === "windows" ? "tfo-mcp.exe" : "tfo-mcp");
/** the binary in dist/ */
export const binaryName = (t: Target) => `tfo-mcp-${platformName(t)}${t.os === "windows" ? ".exe" : ""}`;
/** the archive users download */
export const archiveName = (t: Target) => `tfo-mcp-${platformName(t)}.${t.os === "windows" ? "zip" : "tar.gz"}`;

/** The target this machine runs, if it is one we release. */
export function hostTarget(platform = process.platform, arch = process.arch, musl = false): Target | undefined {
  const os = platform === "win32" ? "windows" : platform;
  return TARGETS.find((t) => t.os === os && t.arch === arch && (t.libc === "musl") === musl);
}
