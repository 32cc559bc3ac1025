"""Node Yjs clients (``yjs``, ``y-websocket``, ``ws`` from npm, in ``js/``) for the sync endpoint's tests and bench."""
