/**
 * `completion bash|zsh|fish|powershell`: cobra's default completion command, which etcdctl 3.4 carries.
 * Each prints a script that makes the shell ask `cairnctl __complete` for candidates.
 */
import type { CommandSpec } from "../cli/command.js";
import { noFileCompletions, requestName, requestNoDescName } from "../cli/complete.js";
import { bashScript, fishScript, powershellScript, zshScript, type ScriptParams } from "../cli/completion-scripts.js";
import { flag } from "./common.js";
import { out } from "../output.js";

/** cobra's NoArgs. */
function noArgs(command: { path: string }, args: readonly string[]): string | undefined {
  return args.length > 0 ? `unknown command ${JSON.stringify(args[0])} for ${JSON.stringify(command.path)}` : undefined;
}

function shellCommand(
  shell: string,
  long: string,
  script: (params: ScriptParams) => string,
  options: { disableFlagsInUseLine?: boolean } = {},
): CommandSpec {
  return {
    use: shell,
    short: `Generate the autocompletion script for ${shell}`,
    long,
    flags: [flag("no-descriptions", "bool", "false", "disable completion descriptions")],
    ...(options.disableFlagsInUseLine === true ? { disableFlagsInUseLine: true } : {}),
    validateArgs: noArgs,
    completeArgs: noFileCompletions,
    run(invocation) {
      const request = invocation.flags.bool("no-descriptions") ? requestNoDescName : requestName;
      out(script({ name: invocation.command.root.name, request }));
    },
  };
}

const bashLong = `Generate the autocompletion script for the bash shell.

This script depends on the 'bash-completion' package.
If it is not installed already, you can install it via your OS's package manager.

To load completions in your current shell session:

	source <(cairnctl completion bash)

To load completions for every new session, execute once:

#### Linux:

	cairnctl completion bash > /etc/bash_completion.d/cairnctl

#### macOS:

	cairnctl completion bash > $(brew --prefix)/etc/bash_completion.d/cairnctl

You will need to start a new shell for this setup to take effect.
`;

const zshLong = `Generate the autocompletion script for the zsh shell.

If shell completion is not already enabled in your environment you will need
to enable it.  You can execute the following once:

	echo "autoload -U compinit; compinit" >> ~/.zshrc

To load completions in your current shell session:

	source <(cairnctl completion zsh); compdef _cairnctl cairnctl

To load completions for every new session, execute once:

#### Linux:

	cairnctl completion zsh > "\${fpath[1]}/_cairnctl"

#### macOS:

	cairnctl completion zsh > $(brew --prefix)/share/zsh/site-functions/_cairnctl

You will need to start a new shell for this setup to take effect.
`;

const fishLong = `Generate the autocompletion script for the fish shell.

To load completions in your current shell session:

	cairnctl completion fish | source

To load completions for every new session, execute once:

	cairnctl completion fish > ~/.config/fish/completions/cairnctl.fish

You will need to start a new shell for this setup to take effect.
`;

const powershellLong = `Generate the autocompletion script for powershell.

To load completions in your current shell session:

	cairnctl completion powershell | Out-String | Invoke-Expression

To load completions for every new session, add the output of the above command
to your powershell profile.
`;

export const completionCommand: CommandSpec = {
  use: "completion",
  short: "Generate the autocompletion script for the specified shell",
  long: `Generate the autocompletion script for cairnctl for the specified shell.
See each sub-command's help for details on how to use the generated script.
`,
  validateArgs: noArgs,
  completeArgs: noFileCompletions,
  subcommands: [
    // Only bash's usage line leaves out [flags], as cobra declares it.
    shellCommand("bash", bashLong, bashScript, { disableFlagsInUseLine: true }),
    shellCommand("zsh", zshLong, zshScript),
    shellCommand("fish", fishLong, fishScript),
    shellCommand("powershell", powershellLong, powershellScript),
  ],
};
