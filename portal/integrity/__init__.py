"""Payment-page integrity (PCI DSS v4.0 6.4.3 and 11.6.1).

- ``sri``: Subresource Integrity hashes for our own scripts (the ``sri()`` template helper).
- ``inventory``: the authorised scripts of the payment page (``config/script_inventory.toml``).
- ``reports`` and ``views``: ``POST /csp-report``, where browsers report CSP violations.
- ``page_check`` and ``cli``: ``flask integrity baseline|check <url>``, which fetch the payment
  page as a browser would and report any drift in its security headers or scripts.
"""
