/**
 * cairnutl: Cairn's offline tool, like etcdutl. It works on files only (snapshot files, data
 * directories) and never talks to a server.
 */
import { cairnRestoreTarget } from "./cairn-restore.js";
import { run } from "./cli.js";
import { dieOnBrokenPipe } from "../platform/broken-pipe.js";

dieOnBrokenPipe();

process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}, { restoreTarget: cairnRestoreTarget });
