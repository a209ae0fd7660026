/** `help [command]`: cobra's default help command, which etcdctl's root carries. */
import type { CommandSpec } from "../cli/command.js";
import { findCommand } from "../cli/run.js";
import { Directive, subcommandCompletions } from "../cli/complete.js";
import { positionalWords } from "../cli/find.js";
import { err, out } from "../output.js";
import { apiVersion, compatVersion } from "../global.js";

export const helpCommand: CommandSpec = {
  use: "help [command]",
  short: "Help about any command",
  long: `Help provides help for any command in the application.
Simply type cairnctl help [path to command] for full details.`,
  // cobra's help completes the sub-commands of the command named so far.
  completeArgs(command, args, toComplete) {
    const root = command.root;
    const found = findCommand(root, args);
    if (found.command === root && positionalWords(root, found.args).length > 0) return { candidates: [], directive: Directive.noFileComp };
    return { candidates: subcommandCompletions(found.command, toComplete).candidates, directive: Directive.noFileComp };
  },
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
