"""The CSP-report blueprint: ``POST /csp-report``, where browsers report Content Security Policy
violations. What a report holds and how it is stored is ``portal.payment_page.reports``."""
