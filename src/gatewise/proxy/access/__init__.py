"""Who is calling, and what they may do: the proxy's access layer.

::

    entities.py   keys, teams, users and end users as the access layer sees them
    periods.py    budget durations ("30s", "30m", "30h", "30d", "1mo") and their periods
    secrets.py    virtual keys: making one, its digest (the only form ever stored), its name

A request's identity is resolved from an in-process cache (never a database round trip per
request in steady state); its limits and budget are checked and reserved in the same
atomic step of the live state that acquires the deployment (``gatewise.state``).
"""
