// Page iteration over AIP list methods: follows next_page_token until it is empty.

import type { CallOptions } from "@connectrpc/connect";

/** A list method of a generated client: takes `pageToken`, answers `nextPageToken`. */
export type ListMethod<Req extends { pageToken?: string }, Res extends { nextPageToken: string }> = (
  request: Req,
  options?: CallOptions,
) => Promise<Res>;

/**
 * Yields every page of a list call, starting at `request` (its `pageToken`, if any) and
 * following `nextPageToken` until the server returns an empty one.
 *
 * ```ts
 * for await (const page of pages(users.listUsers, { pageSize: 100 })) console.log(page.users);
 * ```
 */
export async function* pages<
  Req extends { pageToken?: string },
  Res extends { nextPageToken: string },
>(method: ListMethod<Req, Res>, request: Req, options?: CallOptions): AsyncGenerator<Res> {
  let pageToken = request.pageToken ?? "";
  for (;;) {
    const page = await method({ ...request, pageToken }, options);
    yield page;
    if (page.nextPageToken === "") {
      return;
    }
    pageToken = page.nextPageToken;
  }
}

/**
 * Yields every item of a list call across all pages; `select` picks the items of a page.
 *
 * ```ts
 * for await (const user of listAll(users.listUsers, {}, (page) => page.users)) console.log(user.name);
 * ```
 */
export async function* listAll<
  Req extends { pageToken?: string },
  Res extends { nextPageToken: string },
  Item,
>(
  method: ListMethod<Req, Res>,
  request: Req,
  select: (page: Res) => Item[],
  options?: CallOptions,
): AsyncGenerator<Item> {
  for await (const page of pages(method, request, options)) {
    yield* select(page);
  }
}

/** Collects every item of a list call into an array (see listAll). */
export async function collect<
  Req extends { pageToken?: string },
  Res extends { nextPageToken: string },
  Item,
>(
  method: ListMethod<Req, Res>,
  request: Req,
  select: (page: Res) => Item[],
  options?: CallOptions,
): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of listAll(method, request, select, options)) {
    items.push(item);
  }
  return items;
}
