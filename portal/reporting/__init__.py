"""The back office's read side, knowing nothing of HTTP: who may see which requests, search
filters, keyset pages, the dashboard's numbers and charts, one request's timeline, the audit
log's queries and the CSV export's writers. ``portal.backoffice`` turns them into pages."""
