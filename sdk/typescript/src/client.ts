// The client factory: a grpc-web transport (fetch for browsers, XMLHttpRequest for React
// Native) with owl's credentials (x-api-key, or authorization: Bearer for SDK and developer
// tokens), and clients whose errors are OwlError, for unary and server-streaming calls alike.

import type { DescService } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { OwlError } from "./errors.js";
import { createXhrTransport, type XhrLike } from "./xhr.js";
import type { SdkToken } from "./gen/owl/v1/sdk_token_pb.js";
import { SdkTokenService } from "./gen/owl/v1/sdk_token_service_pb.js";

/** A bearer token, or a function returning the current one (called before every request). */
export type TokenSource = string | (() => string | Promise<string>);

/** How to reach owl and as whom. */
export interface OwlOptions {
  /** The server's URL, for example `https://owl.example.com` (no trailing path). */
  baseUrl: string;
  /** An application's API key, sent as `x-api-key` (backends; browsers of trusted staff). */
  apiKey?: string;
  /** An SDK access token or a developer session token, sent as `authorization: Bearer`. */
  token?: TokenSource;
  /** The fetch to use; default `globalThis.fetch`. React Native apps that stream may pass a
   * streaming-capable polyfill here. */
  fetch?: typeof globalThis.fetch;
  /** Send calls over XMLHttpRequest instead of fetch: what React Native needs, whose fetch has
   * no response body stream. `true` uses `new XMLHttpRequest()`; a function makes each request.
   * Unary calls only: streaming calls fail with UNIMPLEMENTED (see xhr.ts). */
  xhr?: boolean | (() => XhrLike);
  /** Further interceptors, run after the credential is set. */
  interceptors?: Interceptor[];
  /** Default deadline of every call in milliseconds (sent as grpc-timeout). */
  timeoutMs?: number;
}

/** owl over grpc-web: one transport, a typed client per service. */
export interface Owl {
  /** The transport, for `createClient` from @connectrpc/connect or other tools. */
  readonly transport: Transport;
  /** The options this client was made with. */
  readonly options: Readonly<OwlOptions>;
  /** A typed client of one generated service, for example `owl.client(UserService)`. */
  client<S extends DescService>(service: S): Client<S>;
  /** The same server with an API key instead of this client's credentials. */
  withApiKey(apiKey: string): Owl;
  /** The same server with a bearer token (SDK or developer) instead of this client's credentials. */
  withToken(token: TokenSource): Owl;
}

/** Creates a client of owl. Without `apiKey` or `token`, calls are anonymous (Onboard, Login,
 * RedeemInvitationCode, RefreshSdkToken). */
export function createOwl(options: OwlOptions): Owl {
  const interceptors = [credentials(options), ...(options.interceptors ?? [])];
  const transport = options.xhr
    ? createXhrTransport({
        baseUrl: options.baseUrl,
        defaultTimeoutMs: options.timeoutMs,
        interceptors,
        xhr: typeof options.xhr === "function" ? options.xhr : undefined,
      })
    : createGrpcWebTransport({
        baseUrl: options.baseUrl,
        fetch: options.fetch,
        defaultTimeoutMs: options.timeoutMs,
        interceptors,
      });
  const { apiKey: _apiKey, token: _token, ...rest } = options;
  return {
    transport,
    options,
    client: (service) => typedClient(service, transport),
    withApiKey: (apiKey) => createOwl({ ...rest, apiKey }),
    withToken: (token) => createOwl({ ...rest, token }),
  };
}

function credentials(options: OwlOptions): Interceptor {
  return (next) => async (request) => {
    if (options.token !== undefined) {
      const token = typeof options.token === "function" ? await options.token() : options.token;
      request.header.set("authorization", `Bearer ${token}`);
    } else if (options.apiKey !== undefined) {
      request.header.set("x-api-key", options.apiKey);
    }
    return next(request);
  };
}

/** createClient, with every method's errors (thrown, or ending a stream) turned into OwlError. */
function typedClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  type Method = (...args: unknown[]) => unknown;
  const client = createClient(service, transport) as unknown as Record<string, Method>;
  const typed: Record<string, Method> = {};
  for (const method of service.methods) {
    const call = client[method.localName];
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      typed[method.localName] = async (...args) => {
        try {
          return await call(...args);
        } catch (error) {
          throw OwlError.fromError(error);
        }
      };
    } else {
      typed[method.localName] = (...args) => rethrowTyped(call(...args) as AsyncIterable<unknown>);
    }
  }
  return typed as unknown as Client<S>;
}

async function* rethrowTyped<T>(messages: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw OwlError.fromError(error);
  }
}

/** Options of an SDK-token session. */
export interface SdkSessionOptions {
  /** Refresh this long before the access token expires; default 60 000 ms. */
  refreshMarginMs?: number;
  /** Called with every new token, so the app can store the new (single-use) refresh token. */
  onRefresh?: (token: SdkToken) => void | Promise<void>;
  /** Clock for tests; default Date.now. */
  now?: () => number;
}

/**
 * A mobile app's session: a client acting for one user with an SdkToken (from CreateSdkToken on
 * the app's backend or RedeemInvitationCode on the phone), refreshing it through
 * RefreshSdkToken shortly before it expires. Refresh tokens are single use: store the token
 * `onRefresh` hands over.
 *
 * A unary call the server rejects as UNAUTHENTICATED (the phone's clock is off, or the access
 * token was revoked while its refresh token still holds) refreshes once and is sent again; the
 * server refused it before doing anything, so the retry cannot apply it twice. Streaming calls
 * are not retried: their request may be half consumed.
 */
export function sdkSession(
  options: Omit<OwlOptions, "apiKey" | "token">,
  initial: SdkToken,
  session: SdkSessionOptions = {},
): Owl {
  // The untyped client: its ConnectError passes through the interceptors below unchanged (an
  // OwlError thrown inside an interceptor would reach the caller as code UNKNOWN), and the
  // typed client around the call turns it into an OwlError.
  const anonymous = createClient(SdkTokenService, createOwl(options).transport);
  const margin = session.refreshMarginMs ?? 60_000;
  const now = session.now ?? Date.now;
  let current = initial;
  let refreshing: Promise<SdkToken> | undefined;
  const expiresAt = (token: SdkToken) =>
    token.accessTokenExpireTime ? timestampDate(token.accessTokenExpireTime).getTime() : Infinity;
  const refresh = async (stale: SdkToken) => {
    // Callers that saw the same stale token share one refresh; a later one starts its own.
    if (current === stale) {
      refreshing ??= anonymous
        .refreshSdkToken({ refreshToken: stale.refreshToken })
        .then(async (next) => {
          current = next;
          await session.onRefresh?.(next);
          return next;
        })
        .finally(() => {
          refreshing = undefined;
        });
      await refreshing;
    }
    return current.accessToken;
  };
  const token = async () => {
    if (expiresAt(current) - margin <= now()) {
      return refresh(current);
    }
    return current.accessToken;
  };
  const retryUnauthenticated: Interceptor = (next) => async (request) => {
    const sent = current;
    try {
      return await next(request);
    } catch (error) {
      if (request.stream || ConnectError.from(error).code !== Code.Unauthenticated) {
        throw error;
      }
      request.header.set("authorization", `Bearer ${await refresh(sent)}`);
      return next(request);
    }
  };
  return createOwl({
    ...options,
    token,
    interceptors: [retryUnauthenticated, ...(options.interceptors ?? [])],
  });
}
