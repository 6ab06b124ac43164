"""Runtime backends: thin drivers that accept, read, write, arm timers and shut down."""
