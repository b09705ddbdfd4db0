"""The OpenAI-compatible proxy: ``create_app(config)`` gives a raw ASGI app.

Nothing is imported here: ``gatewise.proxy.app``, ``.config`` and ``.server`` load when used.
"""
