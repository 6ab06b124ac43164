"""Running an application: the command line, loading, the backend registry and the workers.

The contract of this package:

- **Its job** is to get an application served: read the command line
  (:mod:`~crosswind.serving.cli`), find and adapt the application
  (:mod:`~crosswind.serving.loading`), find a backend and state what its
  ``serve`` must accept (:mod:`~crosswind.serving.backends`), fork and watch
  the workers of ``--workers N`` (:mod:`~crosswind.serving.supervisor`),
  restart the server on a change (:mod:`~crosswind.serving.reload`), bound
  the requests an application gets (:mod:`~crosswind.serving.capacity`), and
  set up logging (:mod:`~crosswind.serving.logs`).  Besides,
  :mod:`~crosswind.serving.entrypoints` gives applications their ``wsgi`` and
  ``asgi`` attributes.
- **It imports** the protocol layer and the building blocks.  The adapters and
  the backends bring runtimes (threads, sockets, TLS, event loops), so they are
  imported only inside the functions that need them, once a backend or a
  container is really wanted.
- **It never imports the web or app frameworks.**  An application is
  recognised by its shape (``async handle(exchange)``, or a WSGI or ASGI
  callable), so the frameworks depend on this package and never the reverse.

Nothing is re-exported here: the web and app frameworks import
:mod:`~crosswind.serving.entrypoints` with every application, and that must
not load the command line too.  Import each module by its name.
"""
