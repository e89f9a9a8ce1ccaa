"""The client: a gRPC channel, owl's credentials on every call (`x-api-key`, or
`authorization: Bearer` for SDK and developer tokens) and errors raised as OwlError."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, Type, Union

import grpc

from owl.errors import OwlError

TokenSource = Union[str, Callable[[], str]]


class Client:
    """owl over gRPC. `target` is `host:port`; `secure=True` uses TLS with the system's roots
    (or `credentials`). Without `api_key` or `token`, calls are anonymous (Onboard, Login,
    RedeemInvitationCode, RefreshSdkToken).

        with Client("owl.example.com:443", api_key=KEY, secure=True) as owl:
            users = owl.service(user_service_pb2_grpc.UserServiceStub)
            user = users.CreateUser(user_service_pb2.CreateUserRequest(...))
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: Optional[str] = None,
        token: Optional[TokenSource] = None,
        secure: bool = False,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Sequence[Tuple[str, Any]] = (),
        timeout: Optional[float] = None,
        _channel: Optional[grpc.Channel] = None,
    ) -> None:
        if _channel is not None:
            self._channel = _channel
        elif secure or credentials is not None:
            creds = credentials or grpc.ssl_channel_credentials()
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._target = target
        self._api_key = api_key
        self._token = token
        self._timeout = timeout

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel, shared by clients made with `with_api_key`/`with_token`."""
        return self._channel

    def with_api_key(self, api_key: str) -> "Client":
        """The same channel with an application's API key instead of this client's credentials."""
        return Client(self._target, api_key=api_key, timeout=self._timeout, _channel=self._channel)

    def with_token(self, token: TokenSource) -> "Client":
        """The same channel with a bearer token (a string, or a function returning the current
        one) instead of this client's credentials."""
        return Client(self._target, token=token, timeout=self._timeout, _channel=self._channel)

    def service(self, stub_class: Type[Any]) -> "Service":
        """A typed stub of one generated service, for example `UserServiceStub`."""
        return Service(stub_class(self._channel), self._metadata, self._timeout)

    def close(self) -> None:
        """Closes the channel (and so every client sharing it)."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _metadata(self) -> list[Tuple[str, str]]:
        if self._token is not None:
            token = self._token() if callable(self._token) else self._token
            return [("authorization", f"Bearer {token}")]
        if self._api_key is not None:
            return [("x-api-key", self._api_key)]
        return []


class Service:
    """A generated stub whose calls carry the client's credentials and raise OwlError. Unary
    methods return the response; server-streaming methods return a `Stream`."""

    def __init__(self, stub: Any, metadata: Callable[[], list], timeout: Optional[float]) -> None:
        self._stub = stub
        self._metadata = metadata
        self._timeout = timeout

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)
        streaming = isinstance(method, (grpc.UnaryStreamMultiCallable, grpc.StreamStreamMultiCallable))

        def call(request: Any, *, metadata: Sequence[Tuple[str, str]] = (), **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", self._timeout)
            all_metadata = [*self._metadata(), *metadata]
            if streaming:
                return Stream(method(request, metadata=all_metadata, **kwargs))
            try:
                return method(request, metadata=all_metadata, **kwargs)
            except grpc.RpcError as error:
                raise OwlError.from_rpc_error(error) from error

        call.__name__ = name
        call.__doc__ = getattr(method, "__doc__", None)
        return call


class Stream:
    """The messages of a server-streaming call; iteration raises OwlError when the call fails.
    `cancel()` ends it from the client's side (iteration then stops without an error)."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._cancelled = False

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._call
        except grpc.RpcError as error:
            if self._cancelled and error.code() == grpc.StatusCode.CANCELLED:
                return
            raise OwlError.from_rpc_error(error) from error

    def cancel(self) -> None:
        """Cancels the call."""
        self._cancelled = True
        self._call.cancel()
