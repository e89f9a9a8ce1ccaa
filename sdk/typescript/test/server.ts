// Test support (Node only): an `owl serve` to test against. OWL_URL names a running server;
// otherwise one is started from OWL_BIN (default: the checkout's target/debug/owl) on a free
// port in a temporary directory, on the embedded default (SQLite, embedded queue).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** A server to test against; `stop` ends it when this process started it. */
export interface TestServer {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

/** Uses OWL_URL, or starts `owl serve` with `CORS_ORIGINS=corsOrigins`. */
export async function startServer(corsOrigins: string[] = []): Promise<TestServer> {
  if (process.env.OWL_URL) {
    return { url: process.env.OWL_URL.replace(/\/$/, ""), stop: async () => {} };
  }
  const bin = process.env.OWL_BIN ?? resolve(import.meta.dirname, "../../../target/debug/owl");
  const dir = mkdtempSync(join(tmpdir(), "owl-ts-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, SERVER_HOST: url, CORS_ORIGINS: JSON.stringify(corsOrigins.length ? corsOrigins : ["http://localhost:3000"]) };
  for (const name of ["DATABASE_URL", "DB_HOST", "REDIS_URL", "REDIS_HOST"]) delete env[name];
  const child: ChildProcess = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`owl serve exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/api/v1/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`owl serve did not answer on ${url}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
