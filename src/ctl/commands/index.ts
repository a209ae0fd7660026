/** The command tree of cairnctl: etcdctl 3.4's commands, one file each, plus `doctor`. */
import { Command, type CommandSpec } from "../cli/command.js";
import { globalFlagDefs } from "../global.js";
import { delCommand } from "./del.js";
import { getCommand } from "./get.js";
import { putCommand } from "./put.js";
import { versionCommand } from "./version.js";
import { txnCommand } from "./txn.js";
import { compactionCommand } from "./compaction.js";
import { endpointCommand } from "./endpoint.js";
import { memberCommand } from "./member.js";
import { alarmCommand } from "./alarm.js";
import { defragCommand } from "./defrag.js";
import { leaseCommand } from "./lease.js";
import { moveLeaderCommand } from "./move-leader.js";
import { snapshotCommand } from "./snapshot.js";
import { watchCommand } from "./watch.js";
import { authCommand } from "./auth.js";
import { userCommand } from "./user.js";
import { roleCommand } from "./role.js";
import { lockCommand } from "./lock.js";
import { electCommand } from "./elect.js";
import { makeMirrorCommand } from "./make-mirror.js";
import { doctorCommand } from "./doctor.js";
import { checkCommand } from "./check.js";
import { helpCommand } from "./help.js";
import { completionCommand } from "./completion.js";

export const commandSpecs: CommandSpec[] = [
  getCommand,
  putCommand,
  delCommand,
  txnCommand,
  compactionCommand,
  alarmCommand,
  defragCommand,
  endpointCommand,
  moveLeaderCommand,
  watchCommand,
  versionCommand,
  leaseCommand,
  memberCommand,
  snapshotCommand,
  makeMirrorCommand,
  lockCommand,
  electCommand,
  authCommand,
  userCommand,
  roleCommand,
  checkCommand,
  doctorCommand,
  helpCommand,
  completionCommand,
];

/** The root command; its name appears in usage text and error messages. */
export function rootCommand(): Command {
  return new Command(
    { use: "cairnctl", short: "A simple command line client for etcd3.", subcommands: commandSpecs },
    undefined,
    globalFlagDefs,
  );
}
