/**
 * The client against a real etcd 3.4: calls and typed errors, failover past a dead endpoint, dial
 * timeout, auth with token refresh, and TLS with client certificates.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import {
  AuthEnableRequestSchema,
  AuthRoleAddRequestSchema,
  AuthUserAddRequestSchema,
  AuthUserGrantRoleRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { authService, kvService } from "../../src/api/grpc.js";
import { EtcdError, GrpcCode } from "../../src/api/errors.js";
import { EtcdClient } from "../../src/client/client.js";
import { parseEndpoint } from "../../src/client/endpoint.js";
import { freePort, skipWithoutEtcd, startEtcd, type EtcdProcess } from "./etcd.js";
import { haveOpenssl, makePki } from "./tls.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("endpoint strings parse as etcdctl accepts them", () => {
  assert.deepEqual(parseEndpoint("127.0.0.1:2379"), { original: "127.0.0.1:2379", target: "127.0.0.1:2379", secureScheme: false });
  assert.equal(parseEndpoint("https://10.0.0.1:2379").target, "10.0.0.1:2379");
  assert.equal(parseEndpoint("https://10.0.0.1:2379").secureScheme, true);
  assert.equal(parseEndpoint("http://h:1/").target, "h:1");
  assert.equal(parseEndpoint("unix://a.sock").target, "unix:a.sock");
});

const skip = skipWithoutEtcd();

describe("client against real etcd", { skip }, () => {
  let etcd: EtcdProcess;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    await etcd?.stop();
  });

  test("put, range and typed errors", async () => {
    const client = await EtcdClient.connect({ endpoints: [etcd.endpoint], dialTimeoutMs: 2000, commandTimeoutMs: 5000 });
    try {
      const put = await client.unary(kvService.put, create(PutRequestSchema, { key: enc("a"), value: enc("1") }));
      assert.ok(put.header!.revision >= 2n);
      const range = await client.unary(kvService.range, create(RangeRequestSchema, { key: enc("a") }));
      assert.equal(dec(range.kvs[0]!.value), "1");
      await assert.rejects(
        client.unary(kvService.range, create(RangeRequestSchema, { key: enc("a"), revision: 1_000_000n })),
        (error: unknown) => error instanceof EtcdError && error.is("futureRev") && error.code === GrpcCode.OUT_OF_RANGE,
      );
    } finally {
      client.close();
    }
  });

  test("fails over from a dead endpoint to a live one", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const client = await EtcdClient.connect({ endpoints: [dead, etcd.endpoint], dialTimeoutMs: 2000, commandTimeoutMs: 5000 });
    try {
      const range = await client.unary(kvService.range, create(RangeRequestSchema, { key: enc("a") }));
      assert.equal(range.header!.memberId !== 0n, true);
    } finally {
      client.close();
    }
    // Without dialing first, the idempotent read still reaches the live endpoint after the dead one fails.
    const lazy = await EtcdClient.connect({ endpoints: [dead, etcd.endpoint], commandTimeoutMs: 5000 });
    try {
      const range = await lazy.unary(kvService.range, create(RangeRequestSchema, { key: enc("a") }));
      assert.equal(range.kvs.length, 1);
    } finally {
      lazy.close();
    }
  });

  test("dial timeout reads as context deadline exceeded", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await assert.rejects(EtcdClient.connect({ endpoints: [dead], dialTimeoutMs: 300 }), (error: unknown) => {
      return error instanceof EtcdError && error.message === "context deadline exceeded";
    });
  });

  test("auth: token is fetched, sent, and wrong passwords are typed errors", async () => {
    const own = await startEtcd();
    const admin = await EtcdClient.connect({ endpoints: [own.endpoint], dialTimeoutMs: 2000 });
    try {
      await admin.unary(authService.roleAdd, create(AuthRoleAddRequestSchema, { name: "root" }));
      await admin.unary(authService.userAdd, create(AuthUserAddRequestSchema, { name: "root", password: "pw" }));
      await admin.unary(authService.userGrantRole, create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }));
      await admin.unary(authService.authEnable, create(AuthEnableRequestSchema, {}));
      await assert.rejects(
        admin.unary(kvService.range, create(RangeRequestSchema, { key: enc("a") })),
        (error: unknown) => error instanceof EtcdError && error.is("userEmpty"),
      );
      const root = await EtcdClient.connect({ endpoints: [own.endpoint], dialTimeoutMs: 2000, username: "root", password: "pw" });
      try {
        await root.unary(kvService.put, create(PutRequestSchema, { key: enc("x"), value: enc("y") }));
        const range = await root.unary(kvService.range, create(RangeRequestSchema, { key: enc("x") }));
        assert.equal(dec(range.kvs[0]!.value), "y");
      } finally {
        root.close();
      }
      await assert.rejects(
        EtcdClient.connect({ endpoints: [own.endpoint], dialTimeoutMs: 2000, username: "root", password: "bad" }),
        (error: unknown) => error instanceof EtcdError && error.is("authFailed"),
      );
    } finally {
      admin.close();
      await own.stop();
    }
  });

  test("auth: an expired token is renewed and the call retried", async () => {
    const own = await startEtcd({ extraArgs: ["--auth-token=simple", "--auth-token-ttl=1"] });
    const admin = await EtcdClient.connect({ endpoints: [own.endpoint], dialTimeoutMs: 2000 });
    let attempts: string[] = [];
    try {
      await admin.unary(authService.roleAdd, create(AuthRoleAddRequestSchema, { name: "root" }));
      await admin.unary(authService.userAdd, create(AuthUserAddRequestSchema, { name: "root", password: "pw" }));
      await admin.unary(authService.userGrantRole, create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }));
      await admin.unary(authService.authEnable, create(AuthEnableRequestSchema, {}));
      const root = await EtcdClient.connect({
        endpoints: [own.endpoint],
        dialTimeoutMs: 2000,
        username: "root",
        password: "pw",
        onAttemptFailed: (failure) => attempts.push(failure.details),
      });
      try {
        await root.unary(kvService.put, create(PutRequestSchema, { key: enc("x"), value: enc("1") }));
        attempts = [];
        // Simple tokens expire after --auth-token-ttl seconds without use; poll until one has.
        for (let i = 0; i < 100 && !attempts.includes("etcdserver: invalid auth token"); i++) {
          await new Promise((r) => setTimeout(r, 100 * i));
          const range = await root.unary(kvService.range, create(RangeRequestSchema, { key: enc("x") }));
          assert.equal(dec(range.kvs[0]!.value), "1");
        }
        assert.ok(attempts.includes("etcdserver: invalid auth token"), `token never expired: ${attempts.join(", ")}`);
      } finally {
        root.close();
      }
    } finally {
      admin.close();
      await own.stop();
    }
  });

  test("TLS with client certificates", { skip: haveOpenssl() ? false : "openssl not found" }, async () => {
    const pki = makePki();
    const secure = await startEtcd({ tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
    try {
      const client = await EtcdClient.connect({
        endpoints: [secure.clientUrl],
        dialTimeoutMs: 3000,
        tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      });
      try {
        await client.unary(kvService.put, create(PutRequestSchema, { key: enc("t"), value: enc("s") }));
        const range = await client.unary(kvService.range, create(RangeRequestSchema, { key: enc("t") }));
        assert.equal(dec(range.kvs[0]!.value), "s");
      } finally {
        client.close();
      }
      // Without a CA the server's certificate is not trusted unless verification is skipped.
      await assert.rejects(
        EtcdClient.connect({ endpoints: [secure.clientUrl], dialTimeoutMs: 1000, tls: { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } }),
      );
      const skipping = await EtcdClient.connect({
        endpoints: [secure.clientUrl],
        dialTimeoutMs: 3000,
        tls: { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile, insecureSkipVerify: true },
      });
      skipping.close();
    } finally {
      await secure.stop();
      rmSync(pki.dir, { recursive: true, force: true });
    }
  });
});
