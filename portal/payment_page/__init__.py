"""The payment page's integrity (PCI DSS v4.0 6.4.3 and 11.6.1): its scripts and CSP reports.

- ``sri``: Subresource Integrity hashes for our own scripts (the ``sri()`` template helper).
- ``inventory``: the authorised scripts of the payment page (``config/script_inventory.toml``).
- ``reports``: the CSP violations browsers report to ``POST /csp-report`` (whose blueprint is
  ``portal.csp_reports``), parsed and stored with nothing personal in them.
- ``page_check``, ``walk`` and ``cli``: ``flask integrity baseline|check <url>``, which fetch the
  payment page as a browser would and report any drift in its security headers or scripts.
"""
