"""Members' privacy: access (export) and erasure requests over the HTTP API. See
docs/privacy.md for every kind of data the server keeps and how these requests reach it."""
