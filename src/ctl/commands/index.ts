/** The command tree of cairnctl: etcdctl 3.4's commands, one file each, plus `doctor`. */
import { Command, type CommandSpec } from "../cli/command.js";
import { globalFlagDefs } from "../global.js";
import { delCommand } from "./del.js";
import { getCommand } from "./get.js";
import { putCommand } from "./put.js";
import { versionCommand } from "./version.js";

export const commandSpecs: CommandSpec[] = [getCommand, putCommand, delCommand, versionCommand];

/** The root command; its name appears in usage text and error messages. */
export function rootCommand(): Command {
  return new Command(
    { use: "cairnctl", short: "A simple command line client for etcd3.", subcommands: commandSpecs },
    undefined,
    globalFlagDefs,
  );
}
