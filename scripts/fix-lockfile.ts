/**
 * Adds package-lock entries for platform-specific optional packages that the npm registry this
 * project installs from does not serve (e.g. `@bufbuild/buf-darwin-arm64` answers 404). Without
 * them `npm install` leaves them out of the lock and `npm ci` then refuses the lock as out of sync.
 * `npm ci` skips these entries on Linux x64 because of their os/cpu fields, so nothing is fetched.
 * Run after any `npm install` that changes the lock: `npm run build && node dist/scripts/fix-lockfile.js`.
 */
import { readFileSync, writeFileSync } from "node:fs";

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  optionalDependencies?: Record<string, string>;
}

const systems = ["darwin", "win32", "linux", "freebsd", "android", "sunos"];
const cpus = ["arm64", "armv7", "arm", "x64", "ia32", "ppc64", "s390x", "riscv64", "loong64"];

const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, LockEntry> };
let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (lock.packages[`node_modules/${name}`]) continue;
    const shortName = name.split("/").pop() ?? name;
    const system = systems.find((s) => shortName.includes(s));
    const cpu = cpus.find((c) => shortName.includes(c));
    lock.packages[`node_modules/${name}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(cpu ? { cpu: [cpu === "armv7" ? "arm" : cpu] } : {}),
      ...(system ? { os: [system] } : {}),
    };
    added++;
  }
}
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
process.stdout.write(`fix-lockfile: added ${added} entries\n`);
