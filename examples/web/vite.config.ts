/// <reference types="vitest/config" />
// The example imports owl's TypeScript SDK from its source (sdk/typescript/src); the SDK's own
// dependencies resolve from this package's node_modules, so one `npm ci` here is enough.
import { fileURLToPath } from "node:url";

import { defineConfig } from "vite";

export default defineConfig({
  resolve: {
    alias: { "@owl/sdk": fileURLToPath(new URL("../../sdk/typescript/src/index.ts", import.meta.url)) },
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"],
  },
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
  test: {
    include: ["e2e/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
