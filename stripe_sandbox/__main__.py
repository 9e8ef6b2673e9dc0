"""``python -m stripe_sandbox``: serve the sandbox until interrupted."""

from __future__ import annotations

import argparse
import logging
import sys

from .config import DEFAULT_API_VERSION, SandboxSettings, parse_origin_list
from .runner import build_server, server_url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_sandbox",
        description="Offline, Stripe-compatible payment provider for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=12111, help="0 picks a free port")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the /_sandbox/ switches stay loopback-only)",
    )
    parser.add_argument("--secret-key", default=SandboxSettings.secret_key)
    parser.add_argument("--publishable-key", default=SandboxSettings.publishable_key)
    parser.add_argument("--webhook-url", help="where events are POSTed")
    parser.add_argument("--webhook-secret", help="signing secret, whsec_...")
    parser.add_argument(
        "--allowed-frame-ancestors",
        type=parse_origin_list,
        help="origins allowed to frame the card and 3-D Secure pages, "
        "space or comma separated (default: any loopback port)",
    )
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument(
        "--fault-timeout-seconds",
        type=float,
        default=5.0,
        help="how long a 'timeout' fault holds the answer back",
    )
    parser.add_argument("--webhook-retry-base-seconds", type=float, default=0.5)
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        settings = SandboxSettings(
            secret_key=args.secret_key,
            publishable_key=args.publishable_key,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            api_version=args.api_version,
            fault_timeout_seconds=args.fault_timeout_seconds,
            webhook_retry_base_seconds=args.webhook_retry_base_seconds,
            webhook_max_attempts=args.webhook_max_attempts,
            **(
                {"allowed_frame_ancestors": args.allowed_frame_ancestors}
                if args.allowed_frame_ancestors
                else {}
            ),
        )
        server = build_server(args.host, args.port, settings, allow_remote=args.allow_remote)
    except (ValueError, OSError) as error:
        print(f"stripe-sandbox: {error}", file=sys.stderr)
        return 2
    try:
        print(f"stripe-sandbox listening on {server_url(server)}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.app.extensions["stripe_sandbox"].close()  # type: ignore[attr-defined]
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
