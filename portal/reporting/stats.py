"""The dashboard's numbers: requests today and this week, conversion from sent to paid, and the
median time from sending the link to the payment, overall, per day, per agent and per team.

"Paid" is what the payment reads as (``portal.payments.standing``), not merely that a charge
once succeeded: a payment refunded in full, or whose dispute took all of it back, keeps
nothing and is counted under "refunded" (or "disputed") instead. "Net" is the money kept,
per currency: paid less refunds and less disputes whose funds Stripe took back.

HTTP-free. "Today" and "this week" (from Monday) are days in the operator's time zone. One
pass over the period's requests (streamed, a few columns each) feeds every tally; the indexes
on ``capture_requests (created_at, id)`` and ``(team_id, created_at, id)`` keep the read to the
period's rows. Conversion counts only requests that asked for a payment and were sent.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.capture.kinds import PAYMENT_KINDS
from portal.extensions import db
from portal.models.capture import CaptureRequest
from portal.models.payment import Payment, PaymentStatus
from portal.models.staff import StaffUser, Team
from portal.payments.attempt_limit import max_attempts
from portal.payments.standing import PaymentState, money_of, state_of
from portal.reporting import payment_columns
from portal.reporting.queries import payment_facts, scope_clause

CHART_DAYS = 7
NO_TEAM = "No team"
#: States counted as disputed on the dashboard.
DISPUTE_STATES = frozenset(
    {PaymentState.DISPUTED, PaymentState.DISPUTE_WON, PaymentState.DISPUTE_LOST}
)


@dataclass(frozen=True)
class Outcome:
    """What a request's payment came to, for the tallies (None: no money was taken)."""

    state: PaymentState
    net_minor: int
    currency: str


@dataclass
class Tally:
    created: int = 0
    #: Requests asking for a payment whose link was sent: the conversion's denominator.
    payment_sent: int = 0
    #: Sent payment requests whose money was taken and (some of it) kept.
    paid: int = 0
    #: Sent payment requests refunded in full: taken, then all given back.
    refunded: int = 0
    #: Sent payment requests with a dispute (open, won or lost).
    disputed: int = 0
    #: Currency -> minor units kept (after refunds and disputes).
    net: dict[str, int] = field(default_factory=dict)
    #: Seconds from sending the link to the payment succeeding, one per paid request.
    durations: list[float] = field(default_factory=list)

    def add(
        self,
        kind: str,
        sent_at: datetime | None,
        paid_at: datetime | None,
        outcome: Outcome | None = None,
    ) -> None:
        self.created += 1
        if kind not in PAYMENT_KINDS or sent_at is None or paid_at is None:
            if kind in PAYMENT_KINDS and sent_at is not None:
                self.payment_sent += 1
            return
        self.payment_sent += 1
        if outcome is not None:
            self.net[outcome.currency] = self.net.get(outcome.currency, 0) + outcome.net_minor
            if outcome.state in DISPUTE_STATES:
                self.disputed += 1
            if outcome.net_minor == 0:  # nothing kept: refunded in full, or taken back
                if outcome.state is PaymentState.REFUNDED:
                    self.refunded += 1
                return
        self.paid += 1
        self.durations.append(max((paid_at - sent_at).total_seconds(), 0.0))

    @property
    def conversion(self) -> float | None:
        """Paid / sent, between 0 and 1; None when nothing was sent."""
        return self.paid / self.payment_sent if self.payment_sent else None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None


@dataclass
class Dashboard:
    today: date
    week_start: date
    today_tally: Tally
    week_tally: Tally
    #: The last CHART_DAYS days, oldest first.
    days: list[tuple[date, Tally]]
    #: This week, busiest first.
    by_agent: list[tuple[str, Tally]]
    by_team: list[tuple[str, Tally]]


def outcome_of(row, limit: int) -> Outcome | None:
    """What the row's payment came to (``standing``'s rule), or None if no money was taken."""
    facts = payment_facts(row, limit)
    if facts is None or facts.status != PaymentStatus.SUCCEEDED:
        return None
    state = state_of(facts)
    return Outcome(state, money_of(facts, state).net, facts.currency)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def build_dashboard(user: StaffUser, now: datetime, zone: ZoneInfo) -> Dashboard:
    """The dashboard for what ``user`` may see (supervisors: their team), as of ``now``."""
    today = now.astimezone(zone).date()
    week_start = today - timedelta(days=today.weekday())
    first_day = min(week_start, today - timedelta(days=CHART_DAYS - 1))
    query = (
        payment_columns.join_payment_facts(
            select(
                CaptureRequest.created_at,
                CaptureRequest.kind,
                CaptureRequest.sent_at,
                StaffUser.username,
                Team.name,
                Payment.succeeded_at,
                Payment.status.label("payment_status"),
                CaptureRequest.currency,
                Payment.card_brand,
                Payment.card_last4,
                *payment_columns.COLUMNS,
            )
            .select_from(CaptureRequest)
            .join(StaffUser, StaffUser.id == CaptureRequest.created_by_id)
            .outerjoin(Team, Team.id == CaptureRequest.team_id)
            .outerjoin(Payment, Payment.capture_request_id == CaptureRequest.id)
        )
        .where(
            CaptureRequest.created_at >= _midnight(first_day, zone),
            CaptureRequest.created_at <= now,
        )
        .execution_options(yield_per=2000)
    )
    scope = scope_clause(user)
    if scope is not None:
        query = query.where(scope)

    today_tally, week_tally = Tally(), Tally()
    days: dict[date, Tally] = {
        today - timedelta(days=n): Tally() for n in range(CHART_DAYS - 1, -1, -1)
    }
    agents: dict[str, Tally] = defaultdict(Tally)
    teams: dict[str, Tally] = defaultdict(Tally)
    limit = max_attempts()
    for row in db.session.execute(query):
        created_at, kind, sent_at, agent, team, paid_at = row[:6]
        day = created_at.astimezone(zone).date()
        facts = (kind, sent_at, paid_at, outcome_of(row, limit))
        if day in days:
            days[day].add(*facts)
        if day == today:
            today_tally.add(*facts)
        if day >= week_start:
            week_tally.add(*facts)
            agents[agent].add(*facts)
            teams[team or NO_TEAM].add(*facts)

    def busiest(tallies: dict[str, Tally]) -> list[tuple[str, Tally]]:
        return sorted(tallies.items(), key=lambda item: (-item[1].created, item[0]))

    return Dashboard(
        today=today,
        week_start=week_start,
        today_tally=today_tally,
        week_tally=week_tally,
        days=list(days.items()),
        by_agent=busiest(agents),
        by_team=busiest(teams),
    )
