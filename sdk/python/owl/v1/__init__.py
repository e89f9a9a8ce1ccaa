"""Generated from proto/owl/v1 by scripts/gen-sdks (grpcio-tools): messages and stubs."""
