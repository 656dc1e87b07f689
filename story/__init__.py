"""The story domain: projects, characters, panels, dialogue and renders in SQLite,
images in a content-addressed asset store, imports and exports, and the render queue.

The UI and the command line call the service functions of this package only.
"""
