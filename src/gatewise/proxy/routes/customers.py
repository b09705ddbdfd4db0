"""The end-user routes, as LiteLLM's (``/customer/*``, also under ``/end_user/*``): new,
info, update, block, unblock, delete, list.  An end user is the ``user`` field of a
request; giving one a budget or limits binds every request that names them.  All need an
admin."""

from __future__ import annotations

from gatewise.proxy._asgi import Receive, Scope, Send, respond_json
from gatewise.proxy.errors import bad_request
from gatewise.proxy.routes._answers import customer_answer
from gatewise.proxy.routes._bodies import CustomerIds, NewCustomer, UpdateCustomer
from gatewise.proxy.routes._manage import announce, body_of, database, managed, query_of
from gatewise.proxy.state import AppState


@managed()
async def new_customer(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import customers

    body = await body_of(NewCustomer, state, scope, receive)
    written = await customers.create_customer(database(state), body.given())
    await announce(state, written.changes)
    await respond_json(send, customer_answer(written.value))


@managed()
async def customer_info(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """``?end_user_id=`` (LiteLLM's name; ``user_id`` is accepted too)."""
    from gatewise.db import customers

    params = query_of(scope, ("end_user_id", "user_id"))
    user_id = params.get("end_user_id") or params.get("user_id")
    if not user_id:
        raise bad_request("`end_user_id` is required: /customer/info?end_user_id=<id>",
                          param="end_user_id", code="invalid_field")
    customer = await customers.get_customer(database(state), user_id)
    await respond_json(send, customer_answer(customer))


@managed()
async def update_customer(state: AppState, scope: Scope, receive: Receive, send: Send
                          ) -> None:
    from gatewise.db import customers

    body = await body_of(UpdateCustomer, state, scope, receive)
    written = await customers.update_customers(database(state), [body.user_id],
                                               body.given("user_id"))
    await announce(state, written.changes)
    await respond_json(send, customer_answer(written.value[0]))


async def _set_blocked(state: AppState, scope: Scope, receive: Receive, send: Send,
                       blocked: bool) -> None:
    from gatewise.db import customers

    body = await body_of(CustomerIds, state, scope, receive)
    written = await customers.update_customers(database(state), body.user_ids,
                                               {"blocked": blocked})
    await announce(state, written.changes)
    await respond_json(send, {"blocked_users" if blocked else "unblocked_users":
                              [customer_answer(c) for c in written.value]})


@managed()
async def block_customers(state: AppState, scope: Scope, receive: Receive, send: Send
                          ) -> None:
    await _set_blocked(state, scope, receive, send, True)


@managed()
async def unblock_customers(state: AppState, scope: Scope, receive: Receive, send: Send
                            ) -> None:
    await _set_blocked(state, scope, receive, send, False)


@managed()
async def delete_customers(state: AppState, scope: Scope, receive: Receive, send: Send
                           ) -> None:
    from gatewise.db import customers

    body = await body_of(CustomerIds, state, scope, receive)
    written = await customers.delete_customers(database(state), body.user_ids)
    await announce(state, written.changes)
    await respond_json(send, {"deleted_customers": len(written.value),
                              "message": "Successfully deleted customers with ids: "
                                         + ", ".join(written.value)})


@managed()
async def list_customers(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    from gatewise.db import customers

    query_of(scope, ())
    found = await customers.list_customers(database(state))
    await respond_json(send, [customer_answer(c) for c in found])
