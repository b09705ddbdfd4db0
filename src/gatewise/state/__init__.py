"""Live state the proxy shares between its requests (and, with Redis, its processes).

The router's deployment state (``gatewise.router.store``) and the access layer's scope
state (per key, team, user and end user: requests and tokens this minute, requests in
flight, budget spend and reservations) live in the same store, so that a request's
admission -- its limits, its budget reservation and its deployment -- is one atomic step
(one round trip to a shared store), and its settlement another.

::

    ticket.py     Scope, Ticket: what a request is admitted against, and the refusals
    counters.py   the scope bookkeeping of the in-process store (MemoryStore uses it)
    redis/        RedisStore: the same store on Redis, shared by processes and instances;
                  the clock they agree on; identity changes between them (pub/sub)
"""
