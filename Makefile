.PHONY: run test lint format bench

# Set up everything and start Postern on the embedded default (SQLite, Stripe sandbox, dev outbox).
run:
	scripts/demo.sh

# The whole test suite: lint, then pytest on SQLite and on PostgreSQL.
test:
	scripts/test.sh

lint:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python -m bench
