// Vitest global setup: one server for every test file (see server.ts).

import type { TestProject } from "vitest/node";

import { startServer, type TestServer } from "./server.js";

let server: TestServer | undefined;

export async function setup(project: TestProject) {
  server = await startServer();
  project.provide("owlUrl", server.url);
}

export async function teardown() {
  await server?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    owlUrl: string;
  }
}
