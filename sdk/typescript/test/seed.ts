// Test support: a developer session (onboarding the first developer, or logging in when
// onboarding is closed), a fresh application with an API key, and a demo-provider connection
// made by playing the user's browser through the demo's consent page.

import {
  ApplicationService,
  ConnectionService,
  DeveloperService,
  OwlError,
  createOwl,
  type Owl,
} from "../src/index.js";

/** Where connect flows end in the tests' application. */
export const REDIRECT = "https://app.example.com/connected";

/** A client acting as the test developer. */
export async function developer(url: string): Promise<Owl> {
  const anonymous = createOwl({ baseUrl: url });
  const developers = anonymous.client(DeveloperService);
  const email = process.env.OWL_EMAIL ?? "admin@example.com";
  const password = process.env.OWL_PASSWORD ?? "change me, please!";
  let session;
  try {
    session = await developers.onboard({ email, password });
  } catch (error) {
    if (!(error instanceof OwlError && error.reason === "ONBOARDING_CLOSED")) throw error;
    session = await developers.login({ email, password });
  }
  return anonymous.withToken(session.accessToken);
}

/** A new application and a client holding one of its API keys. */
export async function backend(url: string): Promise<{ owl: Owl; application: string; apiKey: string }> {
  const dev = await developer(url);
  const applications = dev.client(ApplicationService);
  const application = await applications.createApplication({
    application: { displayName: `ts-${Date.now()}`, redirectUris: [REDIRECT] },
  });
  const key = await applications.createApiKey({ parent: application.name, apiKey: { displayName: "tests" } });
  return { owl: dev.withApiKey(key.key), application: application.name, apiKey: key.key };
}

/** Connects `user` to the demo provider: StartConnection, then the consent page's Allow link,
 * then owl's callback, which must redirect to the app with status=success. */
export async function connectDemo(owl: Owl, user: string): Promise<void> {
  const started = await owl.client(ConnectionService).startConnection({
    parent: user,
    provider: "demo",
    redirectUri: REDIRECT,
  });
  const page = await (await fetch(started.authorizationUrl)).text();
  const match = /id="allow" href="([^"]+)"/.exec(page);
  if (!match) throw new Error("no Allow link on the demo consent page");
  const back = await fetch(match[1].replaceAll("&amp;", "&"), { redirect: "manual" });
  const location = back.headers.get("location") ?? "";
  if (!location.includes("status=success")) throw new Error(`connect failed: ${back.status} ${location}`);
}
