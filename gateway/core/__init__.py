"""The shared conversation core: knowledge base, dialog state, policies, reply backends.

Channels talk to it only through gateway.core.api (TextTurn in, CoreEvents out); build_core()
in gateway.core.build assembles it from CoreSettings.
"""
