/** `help [command]`: cobra's default help command, which etcdctl's root carries. */
import type { CommandSpec } from "../cli/command.js";
import { findCommand } from "../cli/run.js";
import { err, out } from "../output.js";
import { apiVersion, compatVersion } from "../global.js";

export const helpCommand: CommandSpec = {
  use: "help [command]",
  short: "Help about any command",
  long: `Help provides help for any command in the application.
Simply type cairnctl help [path to command] for full details.`,
  run(invocation) {
    const root = invocation.command.root;
    const { command, args } = findCommand(root, invocation.args);
    // cobra's root refuses leftover words (an unknown topic); other commands keep them as arguments.
    if (command === root && args.length > 0) {
      err(`Unknown help topic [${invocation.args.map((a) => `\`${a}\``).join(" ")}]\n`);
      out(root.usage(compatVersion, apiVersion, { helpFlag: false }));
      return;
    }
    out(command.usage(compatVersion, apiVersion));
  },
};
