"""Disputes (chargebacks) of card payments, mirrored from Stripe: applied from the dispute
fetched again from Stripe (``sync``), asked about by pages and exports (``queries``) and put
into words for staff (``wording``). Postern never opens or answers a dispute itself."""
