"""Panel components, one per file, each a ``pn.viewable.Viewer`` bound to a project view."""
