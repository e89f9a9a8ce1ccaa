// A grpc-web transport over XMLHttpRequest for React Native, whose built-in fetch has no
// streaming response body (connect-web's transports read `response.body` even for unary calls,
// and need ReadableStream, which React Native lacks). It sends unary calls with
// `responseType = "arraybuffer"` and parses the grpc-web envelopes itself; it needs neither
// fetch nor ReadableStream. Server-streaming calls are refused with UNIMPLEMENTED: React
// Native's XMLHttpRequest cannot hand over binary data before the response ends.

import type { DescMessage, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  compressedFlag,
  createClientMethodSerializers,
  createMethodUrl,
  encodeEnvelope,
  runUnaryCall,
} from "@connectrpc/connect/protocol";
import {
  requestHeader,
  trailerFlag,
  trailerParse,
  validateResponse,
  validateTrailer,
} from "@connectrpc/connect/protocol-grpc-web";

/** The part of XMLHttpRequest the transport uses. */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getAllResponseHeaders(): string;
  send(body: ArrayBuffer | Uint8Array): void;
  abort(): void;
  responseType: string;
  readonly response: unknown;
  readonly status: number;
  onload: ((this: never, ev: never) => unknown) | null;
  onerror: ((this: never, ev: never) => unknown) | null;
  onabort: ((this: never, ev: never) => unknown) | null;
}

/** Options of the XMLHttpRequest transport. */
export interface XhrTransportOptions {
  /** The server's URL. */
  baseUrl: string;
  /** Interceptors, outermost first. */
  interceptors?: Interceptor[];
  /** Default deadline of every call in milliseconds. */
  defaultTimeoutMs?: number;
  /** Makes a request; default `new XMLHttpRequest()`. */
  xhr?: () => XhrLike;
}

/** One HTTP exchange: status, headers and the whole body. */
interface Exchange {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

function send(
  make: () => XhrLike,
  url: string,
  header: Headers,
  body: Uint8Array,
  signal: AbortSignal,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new ConnectError("the call was aborted", Code.Canceled));
      return;
    }
    const xhr = make();
    xhr.open("POST", url);
    xhr.responseType = "arraybuffer";
    header.forEach((value, key) => xhr.setRequestHeader(key, value));
    const aborted = () => xhr.abort();
    signal.addEventListener("abort", aborted);
    const done = () => signal.removeEventListener("abort", aborted);
    xhr.onload = () => {
      done();
      resolve({
        status: xhr.status,
        headers: parseHeaders(xhr.getAllResponseHeaders()),
        body: new Uint8Array(xhr.response as ArrayBuffer),
      });
    };
    xhr.onerror = () => {
      done();
      reject(new ConnectError("network error", Code.Unavailable));
    };
    xhr.onabort = () => {
      done();
      reject(new ConnectError("the call was aborted", Code.Canceled));
    };
    xhr.send(body);
  });
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
  }
  return headers;
}

/** The grpc-web envelopes of a whole body: flags and payload of each. */
function envelopes(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) {
      throw new ConnectError("protocol error: truncated envelope header", Code.Internal);
    }
    const flags = body[at];
    const length = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
    const start = at + 5;
    if (start + length > body.length) {
      throw new ConnectError("protocol error: truncated envelope", Code.Internal);
    }
    out.push({ flags, data: body.subarray(start, start + length) });
    at = start + length;
  }
  return out;
}

/** A transport for React Native (or any runtime with XMLHttpRequest and Headers). */
export function createXhrTransport(options: XhrTransportOptions): Transport {
  const make = options.xhr ?? (() => new XMLHttpRequest() as unknown as XhrLike);
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      message: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const { serialize, parse } = createClientMethodSerializers(method, true);
      const deadline =
        timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
      return runUnaryCall<I, O>({
        interceptors: options.interceptors,
        signal,
        timeoutMs: deadline,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: createMethodUrl(options.baseUrl, method),
          header: requestHeader(true, deadline, header, false),
          contextValues: contextValues ?? createContextValues(),
          message,
        },
        next: async (req) => {
          const response = await send(
            make,
            req.url,
            req.header,
            encodeEnvelope(0, serialize(req.message)),
            req.signal,
          );
          const { headerError } = validateResponse(response.status, response.headers);
          let trailer: Headers | undefined;
          let reply: ReturnType<typeof parse> | undefined;
          for (const { flags, data } of envelopes(response.body)) {
            if ((flags & compressedFlag) === compressedFlag) {
              throw new ConnectError("protocol error: compressed output", Code.Internal);
            }
            if (flags === trailerFlag) {
              trailer = trailerParse(data);
            } else if (reply === undefined) {
              reply = parse(data);
            } else {
              throw new ConnectError("protocol error: extra message", Code.Unimplemented);
            }
          }
          if (trailer === undefined) {
            throw headerError ?? new ConnectError("protocol error: missing trailer", Code.Unknown);
          }
          validateTrailer(trailer, response.headers);
          if (reply === undefined) {
            throw new ConnectError("protocol error: missing message", Code.Unknown);
          }
          return {
            stream: false,
            service: method.parent,
            method,
            header: response.headers,
            message: reply,
            trailer,
          };
        },
      });
    },
    async stream<I extends DescMessage, O extends DescMessage>(): Promise<StreamResponse<I, O>> {
      throw new ConnectError(
        "streaming calls need a fetch with streaming response bodies (createOwl({ fetch })); " +
          "over XMLHttpRequest poll the Get method instead (GetImport, ListSyncRuns)",
        Code.Unimplemented,
      );
    },
  };
}
