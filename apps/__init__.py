"""The ``panel serve``-able apps that assemble components into the workbench."""
