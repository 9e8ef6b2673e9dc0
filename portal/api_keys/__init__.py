"""API keys: how a machine (a CRM, a contact-centre platform) acts for one team.

``secret`` makes and reads the key text, ``scopes`` names what a key may do, ``service``
creates, lists, revokes and authenticates keys (audited), ``cli`` is ``flask apikeys``.
"""
