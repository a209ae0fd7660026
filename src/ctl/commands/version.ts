/** `version`: prints the etcdctl version cairnctl is compatible with, in etcdctl's words. */
import type { CommandSpec } from "../cli/command.js";
import { out } from "../output.js";
import { apiVersion, compatVersion } from "../global.js";

export const versionCommand: CommandSpec = {
  use: "version",
  short: "Prints the version of etcdctl",
  run() {
    out(`etcdctl version: ${compatVersion}\nAPI version: ${apiVersion}\n`);
  },
};
