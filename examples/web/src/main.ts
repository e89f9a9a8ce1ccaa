// owl's browser dashboard: signs in with an API key, lists the application's users, and for
// the selected user shows connections, an hourly heart-rate chart (AggregateSamples) and a live
// sync-status feed (WatchSyncStatus), all over grpc-web with owl's TypeScript SDK.

import {
  Bucket,
  ConnectionService,
  ConnectionState,
  OwlError,
  SyncService,
  SyncState,
  TimeSeriesService,
  UserService,
  collect,
  createOwl,
  timestampDate,
  type Connection,
  type Owl,
  type SyncRun,
  type User,
} from "@owl/sdk";

import { heartRateChart } from "./chart";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
$<HTMLInputElement>("server").value =
  params.get("server") ?? import.meta.env.VITE_OWL_URL ?? "http://127.0.0.1:8000";

let owl: Owl | undefined;
let watching: AbortController | undefined;
let selected: { user: User; connections: Connection[] } | undefined;

function showError(error: unknown) {
  const text =
    error instanceof OwlError
      ? `${error.reason ?? error.code}: ${error.rawMessage}`
      : String(error instanceof Error ? error.message : error);
  $("error").textContent = text;
}

$<HTMLFormElement>("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  void signIn().catch(showError);
});

async function signIn() {
  $("error").textContent = "";
  const baseUrl = $<HTMLInputElement>("server").value.replace(/\/$/, "");
  const apiKey = $<HTMLInputElement>("api-key").value.trim();
  owl = createOwl({ baseUrl, apiKey });
  const users = await collect(owl.client(UserService).listUsers, { pageSize: 100 }, (p) => p.users);
  $("status").textContent = `signed in to ${baseUrl}: ${users.length} user${users.length === 1 ? "" : "s"}`;
  $("dashboard").hidden = false;
  const list = $("users");
  list.replaceChildren(
    ...users.map((user) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.user = user.name;
      button.textContent = user.externalUserId || user.email || user.name;
      button.title = user.name;
      button.addEventListener("click", () => void select(user).catch(showError));
      item.append(button);
      return item;
    }),
  );
  if (users.length > 0) {
    await select(users[0]);
  }
}

async function select(user: User) {
  if (!owl) return;
  for (const button of $("users").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.user === user.name));
  }
  $("user-panel").hidden = false;
  $("user-title").textContent = user.externalUserId || user.name;
  const connections = await collect(
    owl.client(ConnectionService).listConnections,
    { parent: user.name },
    (p) => p.connections,
  );
  selected = { user, connections };
  $("connections").replaceChildren(
    ...connections.map((c) => {
      const item = document.createElement("li");
      item.dataset.provider = c.provider;
      const active = c.state === ConnectionState.ACTIVE;
      item.className = active ? "state-active" : "state-other";
      const synced = c.lastSyncTime ? `, last sync ${timestampDate(c.lastSyncTime).toLocaleString()}` : "";
      item.textContent = `${c.provider}: ${ConnectionState[c.state].toLowerCase()}${synced}`;
      return item;
    }),
  );
  if (connections.length === 0) {
    $("connections").textContent = "No connections.";
  }
  $<HTMLButtonElement>("sync-now").disabled = !connections.some((c) => c.state === ConnectionState.ACTIVE);
  await drawChart(user);
  watch(user);
}

async function drawChart(user: User) {
  if (!owl) return;
  const response = await owl.client(TimeSeriesService).aggregateSamples({
    parent: user.name,
    seriesTypes: ["heart_rate"],
    bucket: Bucket.HOUR,
  });
  const buckets = response.series[0]?.buckets ?? [];
  $("chart").innerHTML = heartRateChart(
    buckets.map((b) => ({ time: Number(b.startTime), min: b.min, avg: b.avg, max: b.max })),
  );
}

function watch(user: User) {
  watching?.abort();
  const abort = new AbortController();
  watching = abort;
  const feed = $("sync-feed");
  feed.replaceChildren();
  const client = owl!.client(SyncService);
  void (async () => {
    try {
      for await (const run of client.watchSyncStatus({ parent: user.name }, { signal: abort.signal })) {
        feed.prepend(feedItem(run));
        if (run.state === SyncState.SUCCEEDED && selected?.user.name === user.name) {
          await drawChart(user);
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) showError(error);
    }
  })();
}

function feedItem(run: SyncRun): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.run = run.name;
  item.dataset.state = SyncState[run.state];
  const at = run.updateTime ? timestampDate(run.updateTime).toLocaleTimeString() : "";
  const state = SyncState[run.state].toLowerCase();
  item.textContent = `${at} ${run.provider || "sync"} ${state} (${run.stage}, ${Math.round(run.progressPercent)}%, ${run.itemsProcessed} items)`;
  return item;
}

$("sync-now").addEventListener("click", () => {
  const connection = selected?.connections.find((c) => c.state === ConnectionState.ACTIVE);
  if (!owl || !connection) return;
  void owl.client(SyncService).syncConnection({ name: connection.name }).catch(showError);
});
