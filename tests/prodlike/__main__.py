"""``make prodlike`` (``python -m tests.prodlike``): start Postern as it is deployed and try it.

The same stack the tests run (tests/prodlike/stack.py): nginx with TLS in front of two gunicorn
instances with production settings, PostgreSQL, Redis, both workers, the Stripe sandbox on its
own HTTPS origin and a local SMTP server whose messages are printed here. One account per role
is created with a fresh password; Enter prints the authenticators' current codes; Ctrl-C (or
end of input) stops everything and drops the run's database.
"""

from __future__ import annotations

import secrets
import sys
import threading

import pyotp

from tests.prodlike.stack import start_stack

ROLES = ("agent", "supervisor", "backoffice", "admin", "auditor")


def _print_mail(stack, stop: threading.Event) -> None:
    shown = 0
    while not stop.wait(1.0):
        for message in stack.mailbox.messages[shown:]:
            body = message.get_body(("plain",))
            print(f"\n--- email to {message['To']}: {message['Subject']}\n{body.get_content()}")
        shown = len(stack.mailbox.messages)


def main() -> int:
    print("Starting nginx, gunicorn (production settings), the workers and the sandbox...")
    stack = start_stack(name="manual")
    accounts = []
    for role in ROLES:
        password = secrets.token_urlsafe(12)
        secret = stack.add_staff(role, f"{role}.one", password)  # MFA as production needs
        accounts.append((f"{role}.one", password, secret))
    if "backoffice" in ROLES:  # dual control needs a second back-office user to approve
        password = secrets.token_urlsafe(12)
        accounts.append(
            (
                "backoffice.two",
                password,
                stack.add_staff("backoffice", "backoffice.two", password, mfa=True),
            )
        )
    print(f"\nPostern (production settings) is at {stack.url}/login")
    print(f"  Its certificate is signed by this run's CA: {stack.certificates.ca_file}")
    print(f"  Chromium trusts it with: {' '.join(stack.certificates.chromium_args)}")
    print(f"  App instances behind nginx: {', '.join(stack.instances.values())}")
    print(f"  Stripe sandbox: {stack.sandbox.url}   Logs: {stack.log_dir}")
    print("\nAccounts (username  password  authenticator secret):")
    for username, password, secret in accounts:
        print(f"  {username:<16}{password:<20}{secret or '(no second factor for this role)'}")
    print("\nEmails sent to customers are printed here. Enter: current codes. Ctrl-C: stop.")
    stop = threading.Event()
    threading.Thread(target=_print_mail, args=(stack, stop), daemon=True).start()
    try:
        for _line in sys.stdin:
            for username, _password, secret in accounts:
                if secret:
                    print(f"  {username:<16}{pyotp.TOTP(secret).now()}")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        print("\nStopping...")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
