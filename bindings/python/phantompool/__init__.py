"""phantompool: the Python binding of libphantompool (PhantomDB through a
host-local shared-memory connection pool).

    from phantompool import create_pool

    pool = create_pool()                     # $PHANTOMPOOL, else "default"
    with pool.acquire(timeout=5) as client:  # one seat, this thread only
        client.list_databases()
    pool.close()

Pure Python over ``libphantompool.so.1`` with ctypes; see the package's
README and docs/python.md of the phantompool tree.
"""
from ._lib import LIBRARY_ENV, SONAME
from .client import Client, Response, StreamResponse
from .errors import (AcquireTimeout, AlreadyReleased, BackendError, DaemonError, HTTPError,
                     InvalidArgument, LeaseLost, LibraryError, NotOwnerError, PhantomDBError,
                     PoolClosed, PoolError, PoolNotFound, PoolShuttingDown, PoolTimeout,
                     RequestTimeout, TooBig)
from .pool import DEFAULT, PhantomDBConnectionPool, Pool, create_pool

__version__ = "0.1.0"

__all__ = [
    "create_pool", "Pool", "PhantomDBConnectionPool", "Client", "Response", "StreamResponse",
    "DEFAULT", "LIBRARY_ENV", "SONAME",
    "PhantomDBError", "PoolError", "HTTPError", "LibraryError", "InvalidArgument", "PoolNotFound",
    "DaemonError", "PoolTimeout", "AcquireTimeout", "RequestTimeout", "NotOwnerError",
    "AlreadyReleased", "LeaseLost", "PoolShuttingDown", "BackendError", "TooBig", "PoolClosed",
]
