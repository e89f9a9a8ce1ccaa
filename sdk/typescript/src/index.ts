// owl's TypeScript SDK: the generated owl.v1 messages and services, and a small hand-written
// layer (client factory with credentials, SDK-token sessions, page iteration, typed errors).

export { createOwl, sdkSession } from "./client.js";
export type { Owl, OwlOptions, SdkSessionOptions, TokenSource } from "./client.js";
export { createXhrTransport } from "./xhr.js";
export type { XhrLike, XhrTransportOptions } from "./xhr.js";
export { OwlError } from "./errors.js";
export type { FieldViolation, ResourceInfo } from "./errors.js";
export { collect, listAll, pages } from "./paging.js";
export type { ListMethod } from "./paging.js";
export { Code } from "@connectrpc/connect";
export { create, toJson, fromJson } from "@bufbuild/protobuf";
export { timestampDate, timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
export * from "./gen/owl/v1/index.js";
