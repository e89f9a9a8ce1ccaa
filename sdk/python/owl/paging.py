"""Page iteration over AIP list methods: follows next_page_token until it is empty."""

from __future__ import annotations

from typing import Any, Callable, Iterator


def pages(method: Callable[..., Any], request: Any, **kwargs: Any) -> Iterator[Any]:
    """Yields every response page of `method`, starting at `request` (its page_token, if any)
    and following next_page_token until the server returns an empty one. `kwargs` go to every
    call (timeout, metadata)."""
    page_request = type(request)()
    page_request.CopyFrom(request)
    while True:
        page = method(page_request, **kwargs)
        yield page
        if not page.next_page_token:
            return
        page_request.page_token = page.next_page_token


def paginate(method: Callable[..., Any], request: Any, items: str, **kwargs: Any) -> Iterator[Any]:
    """Yields every item of a list call across all pages; `items` names the repeated field of
    the response (for example `"users"`)."""
    for page in pages(method, request, **kwargs):
        yield from getattr(page, items)
