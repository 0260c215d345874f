"""Peer support (issue 27): blocks between members (``blocks``), installed by
``chatserver.peer.extension.install``. See docs/peer-support.md."""
