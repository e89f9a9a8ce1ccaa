// End to end in headless Chromium (Debian's /usr/bin/chromium through playwright-core): seeds a
// developer, an application with an API key, a user with a demo connection and a finished sync,
// serves the built page with `vite preview`, signs in with the key and checks what the page
// shows: the user, the connection, a heart-rate chart with points, sync-status events (the
// replayed run, then a live one after "Sync now"). Saves a screenshot to target/web-e2e.png.
//
// OWL_URL names a running server (its CORS_ORIGINS must include http://127.0.0.1:$WEB_PORT);
// otherwise one is started from OWL_BIN (default target/debug/owl) with that origin allowed.

import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { chromium, type Browser } from "playwright-core";
import { build, preview, type PreviewServer } from "vite";
import { afterAll, beforeAll, expect, it } from "vitest";

import { SyncService, SyncState, UserService } from "../../../sdk/typescript/src/index.js";
import { backend, connectDemo } from "../../../sdk/typescript/test/seed.js";
import { startServer, type TestServer } from "../../../sdk/typescript/test/server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const screenshot = fileURLToPath(new URL("../../../target/web-e2e.png", import.meta.url));
const port = Number(process.env.WEB_PORT ?? 4173);
const origin = `http://127.0.0.1:${port}`;

let owl: TestServer;
let web: PreviewServer;
let browser: Browser;

beforeAll(async () => {
  owl = await startServer([origin]);
  await build({ root, logLevel: "warn" });
  web = await preview({ root, logLevel: "warn", preview: { host: "127.0.0.1", port, strictPort: true } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await owl?.stop();
});

it("shows users, connections, heart rate and live sync status", async () => {
  // Seed: an application's key, a user, a demo connection, and its first sync finished.
  const seeded = await backend(owl.url);
  const externalId = `e2e-${Date.now()}`;
  const user = await seeded.owl.client(UserService).createUser({ user: { externalUserId: externalId } });
  await connectDemo(seeded.owl, user.name);
  const sync = seeded.owl.client(SyncService);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const runs = await sync.listSyncRuns({ parent: user.name });
    const state = runs.syncRuns[0]?.state;
    if (state === SyncState.SUCCEEDED) break;
    expect(state).not.toBe(SyncState.FAILED);
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((ok) => setTimeout(ok, 200));
  }

  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  await page.goto(`${origin}/?server=${encodeURIComponent(owl.url)}`);
  await page.fill("#api-key", seeded.apiKey);
  await page.click("button[type=submit]");

  const userButton = page.locator(`#users button[data-user="${user.name}"]`);
  await userButton.waitFor();
  expect(await userButton.textContent()).toBe(externalId);
  expect(await page.locator("#users li").count()).toBe(1);

  const connection = page.locator('#connections li[data-provider="demo"]');
  await connection.waitFor();
  expect(await connection.textContent()).toContain("demo: active");

  const chart = page.locator("#chart svg");
  await chart.waitFor();
  const points = Number(await chart.getAttribute("data-points"));
  expect(points).toBeGreaterThanOrEqual(24 * 6);
  const line = await page.locator('[data-testid="heart-rate-line"]').getAttribute("points");
  expect(line?.split(" ").length).toBe(points);

  // The replayed run, then a live event of a new run after "Sync now".
  const succeeded = page.locator('#sync-feed li[data-state="SUCCEEDED"]');
  await succeeded.first().waitFor();
  const replayed = await succeeded.first().getAttribute("data-run");
  await page.click("#sync-now");
  const live = page.locator(`#sync-feed li[data-state="SUCCEEDED"]:not([data-run="${replayed}"])`);
  await live.first().waitFor({ timeout: 60_000 });
  expect(await live.first().textContent()).toContain("demo succeeded");

  mkdirSync(fileURLToPath(new URL("../../../target", import.meta.url)), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  expect(await page.locator("#error").textContent()).toBe("");
  expect(consoleErrors).toEqual([]);
});
