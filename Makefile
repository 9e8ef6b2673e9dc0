.PHONY: run test lint format bench prodlike mutation translations

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

# Postern as deployed: nginx (TLS) in front of gunicorn with production settings, PostgreSQL,
# Redis, the workers and the Stripe sandbox; the stack the tests run (tests/prodlike/).
prodlike:
	scripts/bootstrap.sh requirements-dev.txt
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "needs nginx: apt-get install nginx" >&2; exit 2; }
	.venv/bin/python -m tests.prodlike

# Mutation testing (mutmut) of the security-critical modules with their fast tests, then a score
# per module; not part of `make test`. docs/mutation.md says what runs and what each survivor is.
mutation:
	scripts/mutation.sh

# After changing words a customer reads: extract them, merge into the Welsh catalogue (translate
# what is new or fuzzy in translations/cy/LC_MESSAGES/messages.po), then compile the .mo beside it.
# Both are committed; tests/unit/test_translations.py fails if they lag. docs/languages.md.
translations:
	PYTHONPATH=. .venv/bin/pybabel extract -F babel.cfg -k N_ -k lazy_gettext --no-location \
		--sort-output --project Postern -o translations/messages.pot .
	.venv/bin/pybabel update -i translations/messages.pot -d translations -D messages \
		--width 100 --ignore-obsolete --no-fuzzy-matching
	.venv/bin/pybabel compile -d translations -D messages --statistics
