// The SDK as React Native runs it: no fetch with response bodies and no ReadableStream, calls
// over XMLHttpRequest (here the xhr2 package, an XMLHttpRequest for Node) against a real
// `owl serve`: API-key calls, typed errors with their details, a phone's SDK-token session
// pushing HealthKit samples, and the clear refusal of a streaming call.

import XMLHttpRequest2 from "xhr2";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import {
  Code,
  HealthPlatform,
  OwlError,
  SdkSyncService,
  SdkTokenService,
  SyncService,
  TimeSeriesService,
  UserService,
  createOwl,
  sdkSession,
  timestampFromDate,
  type Owl,
  type XhrLike,
} from "../src/index.js";
import { backend } from "./seed.js";

const url = inject("owlUrl");
const xhr = () => new XMLHttpRequest2() as unknown as XhrLike;
let apiKey: string;
let owl: Owl;
const saved = { fetch: globalThis.fetch, ReadableStream: globalThis.ReadableStream };

beforeAll(async () => {
  ({ apiKey } = await backend(url));
  // From here on the process looks like React Native to the SDK.
  Reflect.deleteProperty(globalThis, "fetch");
  Reflect.deleteProperty(globalThis, "ReadableStream");
  owl = createOwl({ baseUrl: url, apiKey, xhr });
});

afterAll(() => {
  Object.assign(globalThis, saved);
});

describe("over XMLHttpRequest, without fetch or ReadableStream", () => {
  it("has neither", () => {
    expect(typeof globalThis.fetch).toBe("undefined");
    expect(typeof globalThis.ReadableStream).toBe("undefined");
  });

  it("creates, reads and lists users with an API key", async () => {
    const users = owl.client(UserService);
    const externalId = `rn-${Date.now()}`;
    const user = await users.createUser({ user: { externalUserId: externalId } });
    expect(user.name).toMatch(/^users\/[0-9a-f-]{36}$/);
    expect((await users.getUser({ name: user.name })).externalUserId).toBe(externalId);
    const listed = await users.listUsers({ externalUserId: externalId });
    expect(listed.users.map((u) => u.name)).toEqual([user.name]);
  });

  it("turns errors into OwlError with their reason and field violations", async () => {
    const users = owl.client(UserService);
    const missing = (await users
      .getUser({ name: "users/00000000-0000-7000-8000-000000000000" })
      .catch((e: unknown) => e)) as OwlError;
    expect(missing).toBeInstanceOf(OwlError);
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.reason).toBeTruthy();
    const invalid = (await users.listUsers({ pageSize: -1 }).catch((e: unknown) => e)) as OwlError;
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.reason).toBe("INVALID_ARGUMENT");
    expect(invalid.fieldViolations.map((v) => v.field)).toContain("page_size");
    const anonymous = createOwl({ baseUrl: url, xhr });
    const denied = (await anonymous.client(UserService).listUsers({}).catch((e: unknown) => e)) as OwlError;
    expect(denied.code).toBe(Code.Unauthenticated);
  });

  it("lets a phone push HealthKit samples with its SDK token and read them back", async () => {
    const user = await owl.client(UserService).createUser({ user: { externalUserId: `rn-phone-${Date.now()}` } });
    const token = await owl.client(SdkTokenService).createSdkToken({ user: user.name });
    const refreshed: string[] = [];
    // A margin longer than the token's lifetime: the session refreshes on its first call.
    const phone = sdkSession({ baseUrl: url, xhr }, token, {
      refreshMarginMs: 10 * 365 * 24 * 3600 * 1000,
      onRefresh: (next) => {
        refreshed.push(next.refreshToken);
      },
    });
    const now = Date.now() - (Date.now() % 60_000);
    const source = { appId: "com.example.rn", appName: "RN app", deviceModel: "iPhone15,2" };
    const sample = (i: number, value: number) => ({
      recordId: `rn-${now}-${i}`,
      type: "HKQuantityTypeIdentifierHeartRate",
      unit: "count/min",
      value,
      startTime: timestampFromDate(new Date(now - (3 - i) * 60_000)),
      endTime: timestampFromDate(new Date(now - (3 - i) * 60_000)),
      zoneOffset: 3600,
    });
    const pushed = await phone.client(SdkSyncService).pushHealthBatch({
      parent: user.name,
      batch: {
        platform: HealthPlatform.HEALTHKIT,
        source,
        samples: [sample(0, 61), sample(1, 64), { ...sample(2, 70), unit: "furlongs" }],
      },
    });
    expect(refreshed).toHaveLength(1);
    expect(pushed.result?.accepted).toBe(2n);
    expect(pushed.result?.rejected.map((r) => r.index)).toEqual([2]);
    const again = await phone.client(SdkSyncService).pushHealthBatch({
      parent: user.name,
      batch: { platform: HealthPlatform.HEALTHKIT, source, samples: [sample(0, 61), sample(1, 64)] },
    });
    expect(again.result?.duplicates).toBe(2n);
    const read = await phone.client(TimeSeriesService).listSamples({ parent: user.name, seriesTypes: ["heart_rate"] });
    expect(read.series.flatMap((s) => s.values)).toEqual([61, 64]);
  });

  it("refuses streaming calls with UNIMPLEMENTED and says what to do instead", async () => {
    const stream = owl.client(SyncService).watchSyncStatus({ parent: "users/-" });
    const error = (await (async () => {
      for await (const _ of stream) {
        // nothing arrives
      }
    })().catch((e: unknown) => e)) as OwlError;
    expect(error).toBeInstanceOf(OwlError);
    expect(error.code).toBe(Code.Unimplemented);
    expect(error.rawMessage).toMatch(/poll/);
  });
});
