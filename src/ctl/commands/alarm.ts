/** `alarm list|disarm` (etcdctl's alarm_command.go). */
import { create } from "@bufbuild/protobuf";
import { AlarmRequest_AlarmAction, AlarmRequestSchema, AlarmResponseSchema, AlarmType, type AlarmResponse } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { maintenanceService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { call, openSession, type Session } from "./common.js";

async function listAlarms(session: Session): Promise<AlarmResponse> {
  return call(session, maintenanceService.alarm, create(AlarmRequestSchema, { action: AlarmRequest_AlarmAction.GET, alarm: AlarmType.NONE }));
}

const disarmCommand: CommandSpec = {
  use: "disarm",
  short: "Disarms all alarms",
  async run(invocation) {
    if (invocation.args.length !== 0) throw new CtlExit(ExitCode.badArgs, "alarm disarm command accepts no arguments");
    const session = await openSession(invocation);
    // clientv3's AlarmDisarm with an empty member: list the alarms, deactivate each one, and answer
    // with the alarms the deactivations returned, without a header.
    const alarms = await listAlarms(session);
    const response = create(AlarmResponseSchema);
    for (const alarm of alarms.alarms) {
      const deactivated = await call(
        session,
        maintenanceService.alarm,
        create(AlarmRequestSchema, { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: alarm.memberID, alarm: alarm.alarm }),
      );
      response.alarms.push(...deactivated.alarms);
    }
    session.printer.alarm(response);
  },
};

const listCommand: CommandSpec = {
  use: "list",
  short: "Lists all alarms",
  async run(invocation) {
    if (invocation.args.length !== 0) throw new CtlExit(ExitCode.badArgs, "alarm list command accepts no arguments");
    const session = await openSession(invocation);
    session.printer.alarm(await listAlarms(session));
  },
};

export const alarmCommand: CommandSpec = {
  use: "alarm <subcommand>",
  short: "Alarm related commands",
  subcommands: [disarmCommand, listCommand],
};
