/** cairnctl entry point: an etcdctl 3.4 compatible command line client. */
import { runCli } from "./cli/run.js";
import { rootCommand } from "./commands/index.js";
import { apiVersion, compatVersion } from "./global.js";
import { dieOnBrokenPipe, flushStdio } from "../platform/broken-pipe.js";

// grpc-js passes IP addresses as TLS server names; Node's deprecation warning would pollute stderr.
process.noDeprecation = true;
dieOnBrokenPipe();

// etcdctl selects its v3 API from ETCDCTL_API and unsets it so it is not read as a flag.
const api = process.env.ETCDCTL_API;
delete process.env.ETCDCTL_API;
if (api !== undefined && api !== "" && api !== "3") {
  process.stderr.write(api === "2" ? "cairnctl supports only the v3 API (ETCDCTL_API=3)\n" : `unsupported API version ${api}\n`);
  process.exit(1);
}

const code = await runCli(rootCommand(), process.argv.slice(2), compatVersion, apiVersion);
await flushStdio();
process.exit(code);
