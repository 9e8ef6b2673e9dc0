"""A request's live status as the agent's panel shows it (``panel``): its progress, how its link
messages fared and which data fields arrived.

A package of its own, above capture, delivery and personal_data, because the panel reads all
three: in capture it would make capture import delivery, which imports capture.
"""
