// The TypeScript SDK against a real `owl serve` over grpc-web: API-key auth, typed errors with
// their reason and field violations, pagination, SDK tokens, and server streaming.

import { beforeAll, describe, expect, inject, it } from "vitest";

import {
  Code,
  ConnectionService,
  ConnectionState,
  DeviceType,
  OwlError,
  SdkTokenService,
  SyncService,
  SyncState,
  TimeSeriesService,
  Bucket,
  UserService,
  collect,
  createOwl,
  pages,
  sdkSession,
  type Owl,
} from "../src/index.js";
import { backend, connectDemo } from "./seed.js";

const url = inject("owlUrl");
let owl: Owl;

beforeAll(async () => {
  ({ owl } = await backend(url));
});

describe("users with an API key", () => {
  it("creates a user and lists it", async () => {
    const users = owl.client(UserService);
    const externalId = `ts-user-${Date.now()}`;
    const user = await users.createUser({ user: { externalUserId: externalId } });
    expect(user.name).toMatch(/^users\/[0-9a-f-]{36}$/);
    expect(user.externalUserId).toBe(externalId);
    const listed = await users.listUsers({ externalUserId: externalId });
    expect(listed.users.map((u) => u.name)).toEqual([user.name]);
  });

  it("iterates every page of a list", async () => {
    const { owl: fresh } = await backend(url);
    const users = fresh.client(UserService);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await users.createUser({ user: { externalUserId: `page-${i}-${Date.now()}` } })).name);
    }
    const seen: number[] = [];
    for await (const page of pages(users.listUsers, { pageSize: 2 })) {
      seen.push(page.users.length);
    }
    expect(seen).toEqual([2, 2, 1]);
    const all = await collect(users.listUsers, { pageSize: 2 }, (page) => page.users);
    expect(all.map((u) => u.name).sort()).toEqual([...created].sort());
  });
});

describe("typed errors", () => {
  it("carry the code, the reason and every field violation", async () => {
    const users = owl.client(UserService);
    const error = await users.listUsers({ pageSize: -1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OwlError);
    const owlError = error as OwlError;
    expect(owlError.code).toBe(Code.InvalidArgument);
    expect(owlError.reason).toBe("INVALID_ARGUMENT");
    expect(owlError.domain).toBe("owl.v1");
    expect(owlError.fieldViolations.map((v) => v.field)).toContain("page_size");
  });

  it("name the missing resource", async () => {
    const name = "users/00000000-0000-7000-8000-000000000000";
    const error = (await owl.client(UserService).getUser({ name }).catch((e: unknown) => e)) as OwlError;
    expect(error).toBeInstanceOf(OwlError);
    expect(error.code).toBe(Code.NotFound);
    expect(error.reason).toBe("NOT_FOUND");
    expect(error.resource?.name).toBe(name);
  });

  it("say when there are no credentials", async () => {
    const anonymous = createOwl({ baseUrl: url });
    const error = (await anonymous.client(UserService).listUsers({}).catch((e: unknown) => e)) as OwlError;
    expect(error).toBeInstanceOf(OwlError);
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.reason).toBeTruthy();
  });
});

describe("SDK tokens", () => {
  it("act for their own user and refresh before they expire", async () => {
    const user = await owl.client(UserService).createUser({ user: { externalUserId: `sdk-${Date.now()}` } });
    // The backend makes an invitation code; the phone redeems it without credentials.
    const invitation = await owl.client(SdkTokenService).createInvitationCode({ parent: user.name });
    const token = await createOwl({ baseUrl: url }).client(SdkTokenService).redeemInvitationCode({ code: invitation.code });
    expect(token.user).toBe(user.name);
    const refreshed: string[] = [];
    // A margin longer than the token's lifetime forces a refresh on the first call.
    const phone = sdkSession({ baseUrl: url }, token, {
      refreshMarginMs: 10 * 365 * 24 * 3600 * 1000,
      onRefresh: (next) => {
        refreshed.push(next.refreshToken);
      },
    });
    const own = await phone.client(UserService).getUser({ name: user.name });
    expect(own.name).toBe(user.name);
    expect(refreshed).toHaveLength(1);
    // The phone pushes heart rate for its user, as the README's mobile example does.
    const now = Date.now();
    const written = await phone.client(TimeSeriesService).writeSamples({
      parent: user.name,
      batches: [
        {
          source: { provider: "apple_health", deviceType: DeviceType.WATCH, appName: "owl-tests" },
          seriesType: "heart_rate",
          times: [BigInt(now - 60_000), BigInt(now)],
          values: [61, 64],
        },
      ],
    });
    expect(written.stats?.inserted).toBe(2n);
    const samples = await phone.client(TimeSeriesService).listSamples({ parent: user.name, seriesTypes: ["heart_rate"] });
    expect(samples.series[0].values).toEqual([61, 64]);
    expect(refreshed[0]).not.toBe(token.refreshToken);
    const other = await owl.client(UserService).createUser({ user: { externalUserId: `other-${Date.now()}` } });
    const error = (await phone.client(UserService).getUser({ name: other.name }).catch((e: unknown) => e)) as OwlError;
    expect(error).toBeInstanceOf(OwlError);
    expect([Code.PermissionDenied, Code.NotFound]).toContain(error.code);
  });

  it("refresh once and resend a unary call the server rejects as unauthenticated", async () => {
    const user = await owl.client(UserService).createUser({ user: { externalUserId: `sdk-retry-${Date.now()}` } });
    const token = await owl.client(SdkTokenService).createSdkToken({ user: user.name });
    const refreshed: string[] = [];
    // The phone believes its access token is good for a long time, but the server does not
    // know it (revoked, or a clock far off): the first answer is UNAUTHENTICATED.
    const stale = { ...token, accessToken: `${token.accessToken}x` };
    const phone = sdkSession({ baseUrl: url }, stale, {
      onRefresh: (next) => {
        refreshed.push(next.accessToken);
      },
    });
    const own = await phone.client(UserService).getUser({ name: user.name });
    expect(own.name).toBe(user.name);
    expect(refreshed).toHaveLength(1);
    // The new token is kept: the next call needs no refresh.
    await phone.client(UserService).getUser({ name: user.name });
    expect(refreshed).toHaveLength(1);
    // A refresh token already spent cannot refresh: the caller sees the refresh's
    // UNAUTHENTICATED with its reason.
    const spent = sdkSession({ baseUrl: url }, stale, {});
    const error = (await spent.client(UserService).getUser({ name: user.name }).catch((e: unknown) => e)) as OwlError;
    expect(error).toBeInstanceOf(OwlError);
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.reason).toBeTruthy();
  });
});

describe("a demo connection", () => {
  it("streams sync status, syncs heart rate, and aggregates it", async () => {
    const user = await owl.client(UserService).createUser({ user: { externalUserId: `demo-${Date.now()}` } });
    await connectDemo(owl, user.name);
    const connections = await owl.client(ConnectionService).listConnections({ parent: user.name });
    expect(connections.connections).toHaveLength(1);
    const connection = connections.connections[0];
    expect(connection.provider).toBe("demo");
    expect(connection.state).toBe(ConnectionState.ACTIVE);

    const sync = owl.client(SyncService);
    const abort = new AbortController();
    const seen: { name: string; state: SyncState }[] = [];
    let requested: string | undefined;
    let succeeded!: () => void;
    const finished = new Promise<void>((ok) => (succeeded = ok));
    // The run may finish before SyncConnection answers: check on every event and after it.
    const check = () => {
      if (seen.some((e) => e.name === requested && e.state === SyncState.SUCCEEDED)) succeeded();
    };
    const watched = (async () => {
      try {
        for await (const run of sync.watchSyncStatus({ parent: user.name }, { signal: abort.signal })) {
          seen.push({ name: run.name, state: run.state });
          check();
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    })();
    // The connect flow enqueued a sync; SyncConnection returns it while pending, or a new one.
    requested = (await sync.syncConnection({ name: connection.name })).name;
    check();
    const timedOut = new Promise<string>((ok) => setTimeout(() => ok("timed out"), 60_000).unref?.());
    const outcome = await Promise.race([finished.then(() => "succeeded"), timedOut, watched.then(() => "stream ended")]);
    abort.abort();
    await watched;
    expect(outcome, JSON.stringify({ requested, seen })).toBe("succeeded");
    expect(seen[0].state).not.toBe(SyncState.UNSPECIFIED);

    const hours = await owl.client(TimeSeriesService).aggregateSamples({
      parent: user.name,
      seriesTypes: ["heart_rate"],
      bucket: Bucket.HOUR,
    });
    expect(hours.series).toHaveLength(1);
    expect(hours.series[0].buckets.length).toBeGreaterThanOrEqual(24 * 6);
  }, 90_000);
});
