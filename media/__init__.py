"""Images on comments: checking and re-encoding uploads (images), claiming, uploading,
releasing and collecting them in the object store (storage), and the media-gc command (gc).
The route that serves them is api/media.py; the S3 client is store/object_store.py.

May import: web/ (the body's image limits), db, comment, config, store/, core/. Never a route.
"""
